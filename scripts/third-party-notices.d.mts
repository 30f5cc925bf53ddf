/** A package of others that a bundle holds, as scripts/third-party-notices.mjs records it. */
export interface BundledPackage {
  name: string;
  version: string;
  /** Its package.json `license` field. */
  license: string;
  /** The licence files found at its root (empty only for a package WITHOUT_FILE accepts). */
  licenseFiles: string[];
  /** Their text: what the notices reproduce. */
  text: string;
  /** The bundled modules of the package, from the repository's root, with `/`. */
  modules: string[];
}

export const RECORDS: string;
export const NOTICES: string;
export function packageRoot(file: string): string | undefined;
export function bundledPackages(moduleIds: Iterable<string>): BundledPackage[];
export function readRecords(): Record<string, BundledPackage[]>;
export function packageList(packages: BundledPackage[]): string;
export function renderNotices(records: Record<string, BundledPackage[]>, options?: { markdown?: boolean }): string;
export function writeNotices(): string;
