// The live address-space model (DESIGN §4 model/).
export { AddressSpace } from './address-space';
export type { ModelChange } from './address-space';
export { AddressSpaces } from './address-spaces';
export type { Provenance, Region, RegionAttrs, RegionClass, RegionKind, MapsEntry } from './region';
export { parseMaps, formatMapsLine } from './region';
export type { VerifyResult, Difference, Allowance } from './verify';
export { compareWithMaps, formatDifference } from './verify';
export { pageSize } from './page';
