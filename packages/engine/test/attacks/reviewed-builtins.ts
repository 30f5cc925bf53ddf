/**
 * Every property a locked realm keeps (see builtin-walk.ts), on Node 20, 22 and 24, each reviewed
 * against invariants 1-8. A Node whose V8 adds a builtin fails inv3-reviewed-builtins until the
 * builtin has been looked at and added here. Before adding one, check what it does with what a script
 * hands it:
 *
 * - does it walk an iterable, an iterator, a set-like or a list, or call a callback per element, in one
 *   native step (then it goes through `bounded`, `countedIterator` or `chargedEach`, see iterables.ts)?
 * - does it allocate in proportion to an argument, or per callback it calls (charged first, see
 *   builtins.ts)? DisposableStack's `dispose` made a SuppressedError per deferred callback, 1.2 GB for
 *   1e6, and aborted the host: it is removed.
 * - does it make a promise of the intrinsic Promise that it may reject before returning (marked handled,
 *   see installPromise)? `%AsyncIteratorPrototype%[Symbol.asyncDispose]` ended a host run with
 *   --unhandled-rejections=strict.
 * - does it hold state between runs, or hand out an object no walk from the global object reaches (then
 *   lockdown's hiddenIntrinsics and engineHeld list it, so it is frozen)?
 *
 * One line per owner: the path that first reaches it, then the keys it keeps (values that are not
 * primitives, and accessors).
 */
const REVIEWED = `
%ArrayIteratorPrototype%: next
%AsyncFunction.prototype%: constructor
%AsyncFunction.prototype%.constructor: prototype
%AsyncGeneratorFunction.prototype%: constructor prototype
%AsyncGeneratorFunction.prototype%.constructor: prototype
%AsyncGeneratorFunction.prototype%.prototype: constructor next return throw
%AsyncIteratorPrototype%: [Symbol.asyncDispose] [Symbol.asyncIterator]
%GeneratorFunction.prototype%: constructor prototype
%GeneratorFunction.prototype%.__proto__: [Symbol.hasInstance] apply arguments bind call caller constructor name toString
%GeneratorFunction.prototype%.constructor: prototype
%GeneratorFunction.prototype%.constructor.__proto__: prototype
%GeneratorFunction.prototype%.prototype: constructor next return throw
%GlobalObject%: AggregateError Array BigInt Boolean Date Error EvalError Intl Iterator JSON Map Math Number Object Promise Proxy RangeError ReferenceError Reflect RegExp Set String SuppressedError Symbol SyntaxError TypeError URIError WeakMap WeakSet decodeURI decodeURIComponent encodeURI encodeURIComponent isFinite isNaN parseFloat parseInt structuredClone
%GlobalObject%.AggregateError: prototype
%GlobalObject%.AggregateError.prototype: constructor message name
%GlobalObject%.Array: [Symbol.species] from fromAsync isArray of prototype
%GlobalObject%.Array.prototype: [Symbol.iterator] [Symbol.unscopables] at concat constructor copyWithin entries every fill filter find findIndex findLast findLastIndex flat flatMap forEach includes indexOf join keys lastIndexOf map pop push reduce reduceRight reverse shift slice some sort splice toLocaleString toReversed toSorted toSpliced toString unshift values with
%GlobalObject%.Array.prototype.constructor: [Symbol.species] from fromAsync isArray of prototype
%GlobalObject%.BigInt: asIntN asUintN prototype
%GlobalObject%.BigInt.prototype: constructor toLocaleString toString valueOf
%GlobalObject%.Boolean: prototype
%GlobalObject%.Boolean.prototype: constructor toString valueOf
%GlobalObject%.Date: UTC now parse prototype
%GlobalObject%.Date.prototype: [Symbol.toPrimitive] constructor getDate getDay getFullYear getHours getMilliseconds getMinutes getMonth getSeconds getTime getTimezoneOffset getUTCDate getUTCDay getUTCFullYear getUTCHours getUTCMilliseconds getUTCMinutes getUTCMonth getUTCSeconds getYear setDate setFullYear setHours setMilliseconds setMinutes setMonth setSeconds setTime setUTCDate setUTCFullYear setUTCHours setUTCMilliseconds setUTCMinutes setUTCMonth setUTCSeconds setYear toDateString toGMTString toISOString toJSON toLocaleDateString toLocaleString toLocaleTimeString toString toTimeString toUTCString valueOf
%GlobalObject%.Error: captureStackTrace isError prepareStackTrace prototype
%GlobalObject%.Error.prepareStackTrace: prototype
%GlobalObject%.Error.prepareStackTrace.prototype: constructor
%GlobalObject%.Error.prototype: constructor message name toString
%GlobalObject%.EvalError: prototype
%GlobalObject%.EvalError.prototype: constructor message name
%GlobalObject%.Intl: Collator DateTimeFormat DisplayNames DurationFormat ListFormat Locale NumberFormat PluralRules RelativeTimeFormat Segmenter getCanonicalLocales supportedValuesOf
%GlobalObject%.Intl.Collator: prototype supportedLocalesOf
%GlobalObject%.Intl.Collator.prototype: compare constructor resolvedOptions
%GlobalObject%.Intl.DateTimeFormat: prototype supportedLocalesOf
%GlobalObject%.Intl.DateTimeFormat.prototype: constructor format formatRange formatRangeToParts formatToParts resolvedOptions
%GlobalObject%.Intl.DisplayNames: prototype supportedLocalesOf
%GlobalObject%.Intl.DisplayNames.prototype: constructor of resolvedOptions
%GlobalObject%.Intl.DurationFormat: prototype supportedLocalesOf
%GlobalObject%.Intl.DurationFormat.prototype: constructor format formatToParts resolvedOptions
%GlobalObject%.Intl.ListFormat: prototype supportedLocalesOf
%GlobalObject%.Intl.ListFormat.prototype: constructor format formatToParts resolvedOptions
%GlobalObject%.Intl.Locale: prototype
%GlobalObject%.Intl.Locale.prototype: baseName calendar calendars caseFirst collation collations constructor firstDayOfWeek getCalendars getCollations getHourCycles getNumberingSystems getTextInfo getTimeZones getWeekInfo hourCycle hourCycles language maximize minimize numberingSystem numberingSystems numeric region script textInfo timeZones toString weekInfo
%GlobalObject%.Intl.NumberFormat: prototype supportedLocalesOf
%GlobalObject%.Intl.NumberFormat.prototype: constructor format formatRange formatRangeToParts formatToParts resolvedOptions
%GlobalObject%.Intl.PluralRules: prototype supportedLocalesOf
%GlobalObject%.Intl.PluralRules.prototype: constructor resolvedOptions select selectRange
%GlobalObject%.Intl.RelativeTimeFormat: prototype supportedLocalesOf
%GlobalObject%.Intl.RelativeTimeFormat.prototype: constructor format formatToParts resolvedOptions
%GlobalObject%.Intl.Segmenter: prototype supportedLocalesOf
%GlobalObject%.Intl.Segmenter.prototype: constructor resolvedOptions segment
%GlobalObject%.Iterator: from prototype
%GlobalObject%.JSON: isRawJSON parse rawJSON stringify
%GlobalObject%.Map: [Symbol.species] groupBy prototype
%GlobalObject%.Map.prototype: [Symbol.iterator] clear constructor delete entries forEach get has keys set size values
%GlobalObject%.Math: abs acos acosh asin asinh atan atan2 atanh cbrt ceil clz32 cos cosh exp expm1 f16round floor fround hypot imul log log10 log1p log2 max min pow random round sign sin sinh sqrt tan tanh trunc
%GlobalObject%.Number: isFinite isInteger isNaN isSafeInteger parseFloat parseInt prototype
%GlobalObject%.Number.prototype: constructor toExponential toFixed toLocaleString toPrecision toString valueOf
%GlobalObject%.Object: assign create defineProperties defineProperty entries freeze fromEntries getOwnPropertyDescriptor getOwnPropertyDescriptors getOwnPropertyNames getOwnPropertySymbols getPrototypeOf groupBy hasOwn is isExtensible isFrozen isSealed keys preventExtensions prototype seal setPrototypeOf values
%GlobalObject%.Promise: [Symbol.species] all allSettled any prototype race reject resolve try withResolvers
%GlobalObject%.Promise.prototype: catch constructor finally then
%GlobalObject%.Proxy: prototype revocable
%GlobalObject%.Proxy.prototype: constructor
%GlobalObject%.RangeError: prototype
%GlobalObject%.RangeError.prototype: constructor message name
%GlobalObject%.ReferenceError: prototype
%GlobalObject%.ReferenceError.prototype: constructor message name
%GlobalObject%.Reflect: apply construct defineProperty deleteProperty get getOwnPropertyDescriptor getPrototypeOf has isExtensible ownKeys preventExtensions set setPrototypeOf
%GlobalObject%.RegExp: [Symbol.species] escape prototype
%GlobalObject%.RegExp.prototype: [Symbol.matchAll] [Symbol.match] [Symbol.replace] [Symbol.search] [Symbol.split] compile constructor dotAll exec flags global hasIndices ignoreCase multiline source sticky test toString unicode unicodeSets
%GlobalObject%.RegExp.prototype.constructor: [Symbol.species] escape prototype
%GlobalObject%.Set: [Symbol.species] prototype
%GlobalObject%.Set.prototype: [Symbol.iterator] add clear constructor delete difference entries forEach has intersection isDisjointFrom isSubsetOf isSupersetOf keys size symmetricDifference union values
%GlobalObject%.String: fromCharCode fromCodePoint prototype raw
%GlobalObject%.String.prototype: [Symbol.iterator] anchor at big blink bold charAt charCodeAt codePointAt concat constructor endsWith fixed fontcolor fontsize includes indexOf isWellFormed italics lastIndexOf link localeCompare match matchAll normalize padEnd padStart repeat replace replaceAll search slice small split startsWith strike sub substr substring sup toLocaleLowerCase toLocaleUpperCase toLowerCase toString toUpperCase toWellFormed trim trimEnd trimLeft trimRight trimStart valueOf
%GlobalObject%.SuppressedError: prototype
%GlobalObject%.SuppressedError.prototype: constructor
%GlobalObject%.Symbol: for keyFor prototype
%GlobalObject%.Symbol.prototype: [Symbol.toPrimitive] constructor description toString valueOf
%GlobalObject%.SyntaxError: prototype
%GlobalObject%.SyntaxError.prototype: constructor message name
%GlobalObject%.TypeError: prototype
%GlobalObject%.TypeError.prototype: constructor message name
%GlobalObject%.URIError: prototype
%GlobalObject%.URIError.prototype: constructor message name
%GlobalObject%.WeakMap: prototype
%GlobalObject%.WeakMap.prototype: constructor delete get has set
%GlobalObject%.WeakSet: prototype
%GlobalObject%.WeakSet.prototype: add constructor delete has
%GlobalObject%.__proto__: constructor
%IteratorHelperPrototype%: next return
%IteratorPrototype%: [Symbol.dispose] [Symbol.iterator] [Symbol.toStringTag] constructor drop every filter find flatMap forEach map reduce some take toArray
%IteratorPrototype%.__proto__: __defineGetter__ __defineSetter__ __lookupGetter__ __lookupSetter__ __proto__ constructor hasOwnProperty isPrototypeOf propertyIsEnumerable toLocaleString toString valueOf
%MapIteratorPrototype%: next
%RegExpStringIteratorPrototype%: next
%SegmentIteratorPrototype%: next
%SegmentsPrototype%: [Symbol.iterator] containing
%SetIteratorPrototype%: next
%StringIteratorPrototype%: next
%WrapForValidIteratorPrototype%: next return
`;

/** `owner: key key ...` per line, as `owner.key` names. */
export const REVIEWED_BUILTINS: ReadonlySet<string> = new Set(
  REVIEWED.split('\n')
    .filter((line) => line !== '')
    .flatMap((line) => {
      const at = line.indexOf(': ');
      const owner = line.slice(0, at);
      return line.slice(at + 2).split(' ').map((key) => `${owner}.${key}`);
    }),
);
