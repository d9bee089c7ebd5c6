import { cpus } from 'node:os';

/** A short description of this machine, the key under which measured stage costs are stored. */
export function machineKey(): string {
  const list = cpus();
  return `${(list[0]?.model ?? 'unknown cpu').replace(/\s+/g, ' ').trim()} x${list.length}`;
}
