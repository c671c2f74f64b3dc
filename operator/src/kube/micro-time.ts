/**
 * A Kubernetes MicroTime (a Lease's acquireTime and renewTime, an Event's eventTime): RFC 3339 with
 * exactly six fractional digits. The kube-apiserver refuses JavaScript's millisecond ISO strings
 * ("cannot parse \".374Z\" as \".000000\""), so every MicroTime this project writes goes through here.
 */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
