/**
 * The executors' token as the cluster keeps it: a Secret (`NAMESPACE/NAME`) whose key `token` holds it. The
 * controller sends it to executors; taskctl sends it through the API server's pod proxy.
 */

/** `NAMESPACE/NAME` of a Secret (both DNS names), or undefined. */
export function parseSecretRef(value: string): { namespace: string; name: string } | undefined {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(value);
  return match ? { namespace: match[1]!, name: match[3]! } : undefined;
}

/** The decoded, trimmed key `token` of a Secret's data; undefined when the key is missing. */
export function tokenOfSecret(secret: { data?: Record<string, string> | undefined }): string | undefined {
  const encoded = secret.data?.token;
  return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8").trim();
}
