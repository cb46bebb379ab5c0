import { startKubeTestEnv, stopKubeTestEnv, type KubeTestEnv } from "@org/testkit";

let env: KubeTestEnv | undefined;

/** One real etcd + kube-apiserver + kube-controller-manager with the CRDs, for taskctl's cluster tests. */
export async function setup(): Promise<void> {
  env = await startKubeTestEnv();
}

export async function teardown(): Promise<void> {
  await stopKubeTestEnv(env);
}
