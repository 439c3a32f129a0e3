// Removing a container record for good: its dir, its name, and its hold on the image.
import { releaseImage } from './image.js';
import { deleteRecord, type ContainerConfig } from './state.js';

export async function forgetContainer(root: string, c: { dir: string; config: Pick<ContainerConfig, 'id' | 'name' | 'image'> }): Promise<void> {
  deleteRecord(root, c);
  // containers made from plain layer dirs (tests, builds) hold no image
  if (c.config.image.id) await releaseImage(root, c.config.id);
}
