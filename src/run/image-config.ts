// The parts of an OCI image config a container runtime reads and commit writes
// (image-spec config.md), as the image module spells them.
import type { ImageConfig as StoredImageConfig } from '../image/media.js';

export type { HistoryEntry, ContainerConfig as ImageRuntimeConfig } from '../image/media.js';
/** An image config as the runtime takes it: the store's, or a hand-made one (no rootfs). */
export type ImageConfig = Partial<StoredImageConfig>;
