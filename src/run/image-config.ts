// The parts of an OCI image config a container runtime reads and commit writes
// (image-spec config.md). Kept here so src/run compiles against the contract alone.
export interface ImageRuntimeConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture?: string;
  os?: string;
  config?: ImageRuntimeConfig;
  rootfs?: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
}
