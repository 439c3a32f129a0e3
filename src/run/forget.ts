// Removing a container record for good: its hold on the image, then its name and dir.
// In that order, a strata killed half-way leaves a record (shown by ps -a, removed by rm)
// rather than a hold that names no container and keeps the image from rmi.
import { releaseImage } from './image.js';
import { deleteRecord, type ContainerConfig } from './state.js';

export async function forgetContainer(root: string, c: { dir: string; config: Pick<ContainerConfig, 'id' | 'name' | 'image'> }): Promise<void> {
  // containers made from plain layer dirs (tests, builds) hold no image
  if (c.config.image.id) await releaseImage(root, c.config.id);
  deleteRecord(root, c);
}
