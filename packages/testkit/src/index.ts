/** @org/testkit — test environments for the task executor. */
export * from "./oci-image.js";
export * from "./containerd.js";
export * from "./package-bin.js";
export * from "./executor.js";
export * from "./main-container.js";
export * from "./kube-env.js";
export * from "./netns.js";
export * from "./executor-pods.js";
export * from "./controller.js";
export * from "./flags-doc.js";
