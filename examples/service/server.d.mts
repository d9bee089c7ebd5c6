import type { EngineOptions } from '../../dist/src/index.js';

export interface Service {
  readonly url: string;
  close(): Promise<void>;
}

export function startService(options?: { port?: number; host?: string; catalog?: string; engineOptions?: EngineOptions }): Promise<Service>;
export function statusFor(error: unknown): number;
