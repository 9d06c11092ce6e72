/** The seeded generator tests replay their "random" inputs with (shared with compare's bootstrap). */
export { seededRandom } from '../../shared/random.js';
