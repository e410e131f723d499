/**
 * Sets a key as an own enumerable property. Keys come from devices, and a plain assignment of
 * "__proto__" would change the object's prototype instead of adding the key.
 */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
