import * as http from "node:http";
import * as https from "node:https";
import { PassThrough, type Readable } from "node:stream";
import type { KubeConfig } from "@kubernetes/client-node";
import { CliError } from "../errors.js";

/** A reply of the API server (or, through the pod proxy, of an executor) other than 200. */
export class KubeHttpError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message);
    this.name = "KubeHttpError";
  }

  /** The body is not a Kubernetes Status: the answer came from behind the proxy (the executor). */
  get fromProxiedServer(): boolean {
    try {
      return (JSON.parse(this.body) as { kind?: unknown }).kind !== "Status";
    } catch {
      return true;
    }
  }
}

/**
 * A GET to the API server with the kubeconfig's credentials, for what the generated clients do not
 * stream (pod proxy logs, /readyz). Resolves with the response once its headers arrived with status 200;
 * rejects with a {@link KubeHttpError} for any other status. `headers` are sent as well (the pod proxy forwards
 * them to the pod, all but `Authorization`, which the API server keeps for itself).
 */
export async function kubeGet(kubeConfig: KubeConfig, path: string, headers: Record<string, string> = {}): Promise<Readable> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new CliError("the kubeconfig names no current cluster");
  const url = new URL(path, cluster.server);
  const options: https.RequestOptions = { method: "GET", headers: { accept: "*/*", ...headers } };
  await kubeConfig.applyToHTTPSOptions(options);
  const transport = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(url, options, (response) => {
      if (response.statusCode === 200) {
        const body = new PassThrough();
        response.pipe(body);
        resolve(body);
        return;
      }
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const status = response.statusCode ?? 0;
        const body = Buffer.concat(chunks).toString("utf8");
        reject(new KubeHttpError(`GET ${url.pathname}: ${statusMessage(status, body)}`, status, body));
      });
    });
    request.setTimeout(15_000, () => request.destroy(new CliError(`the API server at ${cluster.server} did not answer GET ${url.pathname} in time`)));
    request.on("response", () => request.setTimeout(0));
    request.on("error", (error) => reject(error instanceof CliError ? error : new CliError(`cannot reach the API server at ${cluster.server} (${error.message})`)));
    request.end();
  });
}

/** The message of an API server or executor error body: a Status, an executor error, or the text. */
export function statusMessage(code: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; code?: unknown };
    if (typeof parsed.message === "string") return typeof parsed.code === "string" ? `${parsed.code}: ${parsed.message}` : parsed.message;
  } catch {
    // not JSON
  }
  const text = body.trim().split("\n")[0];
  return text ? `HTTP ${code}: ${text}` : `HTTP ${code}`;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
