/**
 * `npm run dashboards`: write the Grafana dashboards and the alerting rules into the chart
 * (charts/netmatrix/dashboards/*.json, charts/netmatrix/files/alerts.yaml). Commit the result.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DASHBOARDS_DIR, REPO_ROOT, generatedFiles } from './generate.js';

const files = await generatedFiles();
// A dashboard removed from the sources leaves the chart too.
for (const name of await readdir(join(REPO_ROOT, DASHBOARDS_DIR)).catch(() => [])) {
  if (name.endsWith('.json') && !(`${DASHBOARDS_DIR}/${name}` in files)) await rm(join(REPO_ROOT, DASHBOARDS_DIR, name));
}
for (const [path, text] of Object.entries(files)) {
  await mkdir(dirname(join(REPO_ROOT, path)), { recursive: true });
  await writeFile(join(REPO_ROOT, path), text);
  console.log(`wrote ${path}`);
}
