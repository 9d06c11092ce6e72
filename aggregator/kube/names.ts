/**
 * Names and labels of the Kubernetes objects the aggregator owns. Pure.
 *
 * A Service name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a
 * letter, ending with a letter or digit, at most 63 characters); node names are DNS-1123
 * subdomains of up to 253 characters, so they are sanitized, cut, and made unique again by a
 * short hash of the full node name.
 */
import { createHash } from 'node:crypto';

export const MANAGED_BY = 'netmatrix-aggregator';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_INSTANCE = 'netmatrix.io/instance';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
/** Annotation holding the full node name (a label value could not hold every node name). */
export const ANNOTATION_NODE = 'netmatrix.io/node';
/** The EndpointSlice controller leaves alone slices managed by anyone else. */
export const ENDPOINTSLICE_MANAGED_BY = 'aggregator.netmatrix.io';

const MAX_NAME = 63;
const HASH_CHARS = 8;

/** "abc" -> "abc"; anything outside [a-z0-9-] becomes '-', runs collapse, edges trimmed. */
function sanitize(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/** A label value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends (or empty). */
export function labelValue(s: string): string {
  return s
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

export const isDns1035 = (s: string): boolean => s.length <= MAX_NAME && /^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(s);

/**
 * The Service (and EndpointSlice) name for the pod agent on `node`: "<instance>-<node>-<hash>",
 * with both parts cut to fit. Deterministic, distinct for distinct (instance, node), DNS-1035.
 */
export function serviceName(instance: string, node: string): string {
  const hash = createHash('sha256').update(`${instance}\0${node}`).digest('hex').slice(0, HASH_CHARS);
  let prefix = sanitize(instance).slice(0, 20).replace(/-+$/, '');
  if (!/^[a-z]/.test(prefix)) prefix = `nm${prefix ? `-${prefix}` : ''}`.slice(0, 20).replace(/-+$/, '');
  const room = MAX_NAME - prefix.length - HASH_CHARS - 2;
  const middle = sanitize(node).slice(0, room).replace(/-+$/, '');
  return middle ? `${prefix}-${middle}-${hash}` : `${prefix}-${hash}`;
}

/** Labels on every object the aggregator owns; the selector finds exactly those of this instance. */
export function ownedLabels(instance: string): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_INSTANCE]: labelValue(instance), [LABEL_COMPONENT]: 'service-target' };
}

export function ownedSelector(instance: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY},${LABEL_INSTANCE}=${labelValue(instance)}`;
}
