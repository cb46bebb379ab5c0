import { startKubeTestEnv, stopKubeTestEnv, type KubeTestEnv } from "@org/testkit";

let env: KubeTestEnv | undefined;

/** One real control plane (with the CRDs of deploy/crds installed) for the manifests' tests. */
export async function setup(): Promise<void> {
  env = await startKubeTestEnv();
}

export async function teardown(): Promise<void> {
  await stopKubeTestEnv(env);
}
