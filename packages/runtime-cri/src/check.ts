import { CriClient, grpcMessage } from "./cri-client.js";

export interface CriRuntimeInfo {
  runtimeName: string;
  runtimeVersion: string;
  /** The CRI API version the runtime speaks (e.g. v1). */
  runtimeApiVersion: string;
}

/**
 * Start-up check: asks the CRI runtime at `socketPath` for its Version. Throws an Error naming the socket when it
 * does not answer within `timeoutMs` (default 5 s) or answers with an error.
 */
export async function checkCriRuntime(socketPath: string, timeoutMs = 5000): Promise<CriRuntimeInfo> {
  const client = new CriClient(socketPath);
  try {
    const version = await client.version(timeoutMs);
    return {
      runtimeName: version.runtime_name,
      runtimeVersion: version.runtime_version,
      runtimeApiVersion: version.runtime_api_version,
    };
  } catch (error) {
    throw new Error(`the CRI runtime at unix socket ${socketPath} did not answer a Version request within ${timeoutMs} ms: ${grpcMessage(error)}`);
  } finally {
    client.close();
  }
}
