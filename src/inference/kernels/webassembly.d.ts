// The part of the WebAssembly JS API Sieve uses. Node has it globally; the ES lib Sieve compiles
// against (no DOM) and @types/node 20 do not declare it.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  class Instance {
    constructor(module: Module, imports?: object);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  function validate(bytes: ArrayBufferView | ArrayBuffer): boolean;
}
