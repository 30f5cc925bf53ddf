// The types of playground-assets.generated.js, which scripts/build-playground.mjs writes from
// packages/engine/playground/ (the page's HTML, script and styles) before the engine is bundled.

/** One file of the page, served at `{path}/playground/assets/{name}`. */
export interface PlaygroundAsset {
  /** Its Content-Type. */
  readonly type: string;
  readonly body: string;
}

/** The page, with `{{nonce}}` where each response puts its own CSP nonce and the asset names filled in. */
export declare const PLAYGROUND_HTML: string;

/** The assets by file name; every name carries a hash of its content, so they are cached for good. */
export declare const PLAYGROUND_ASSETS: Readonly<Record<string, PlaygroundAsset>>;
