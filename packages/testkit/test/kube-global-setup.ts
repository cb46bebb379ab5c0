// Brings the Kubernetes test environment up once for the test run; test files find it with kubeTestEnvFromEnv().
import { startKubeTestEnv, stopKubeTestEnv } from "../src/kube-env.js";

export async function setup(): Promise<void> {
  await startKubeTestEnv();
}

export async function teardown(): Promise<void> {
  await stopKubeTestEnv();
}
