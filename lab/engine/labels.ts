/**
 * Docker labels the lab puts on everything it creates, so that it can find and
 * remove its own containers and images and never touch anyone else's.
 */

/** Every container and image the lab (or its tests) creates carries `upstart-unicorn-lab=1`. */
export const LAB_LABEL = 'upstart-unicorn-lab';
export const LAB_LABEL_VALUE = '1';

/** Which lab run a container belongs to (one value per run of the lab runner). */
export const INSTANCE_LABEL = 'upstart-unicorn-lab.instance';

/** On images: the lab's short image name (`base-bookworm`, `runtime`, ...). */
export const IMAGE_LABEL = 'upstart-unicorn-lab.image';

/** On images built by lab/engine/build.ts: the full content hash of the build inputs. */
export const INPUTS_LABEL = 'upstart-unicorn-lab.inputs';

/** Labels for anything the lab creates outside of a lab run (images, test containers). */
export function labLabels(): Record<string, string> {
  return { [LAB_LABEL]: LAB_LABEL_VALUE };
}

/** Labels for a container that belongs to one lab run. */
export function instanceLabels(instance: string): Record<string, string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(instance)) {
    throw new RangeError(`lab instance id "${instance}" must be letters, digits, '.', '_' or '-'`);
  }
  return { ...labLabels(), [INSTANCE_LABEL]: instance };
}

/** A `filters` value for dockerode's listContainers/listImages: the lab's objects, or one run's. */
export function labFilter(instance?: string): { label: string[] } {
  const label = [`${LAB_LABEL}=${LAB_LABEL_VALUE}`];
  if (instance !== undefined) label.push(`${INSTANCE_LABEL}=${instance}`);
  return { label };
}
