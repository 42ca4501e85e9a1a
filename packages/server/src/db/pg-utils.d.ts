// node-postgres converts a parameter to its wire text here; it ships no declaration for the module.
declare module "pg/lib/utils.js" {
  const utils: { prepareValue(value: unknown): string | Uint8Array | null };
  export default utils;
}
