/**
 * The parts of Standard Schema (v1) and Standard JSON Schema (v1) the tool system uses, declared here so
 * the engine depends on no schema library: zod, valibot, arktype and others implement them as is.
 */

export interface StandardIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

export type StandardResult<Output> = { readonly value: Output; readonly issues?: undefined } | { readonly issues: ReadonlyArray<StandardIssue> };

/** A validator in the Standard Schema format (`schema['~standard'].validate`). */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
    /** Standard JSON Schema: present on zod >= 4.2, arktype >= 2.1.28, valibot via `toStandardJsonSchema`. */
    readonly jsonSchema?: {
      readonly input: (options: { readonly target: string }) => Record<string, unknown>;
      readonly output: (options: { readonly target: string }) => Record<string, unknown>;
    };
  };
}

export type InferInput<S> = S extends StandardSchemaV1<infer I, unknown> ? I : unknown;
export type InferOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : unknown;
