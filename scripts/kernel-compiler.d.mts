export function compileKernel(wat: string, name: string): Promise<Buffer>;
export function kernelModuleSource(file: string, bytes: Buffer): string;
