import type { IdentifierKind } from './kind.ts'

/** `eyJ` (base64url of `{"`), three dot-separated parts; each run read once from its start. */
export const JWT: IdentifierKind = {
  id: 'jwt',
  placeholder: '[token]',
  label: 'JSON Web Tokens',
  hint: 'eyJ',
  pattern: /(?<![\w-])eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*/g,
}

/** Random-looking: digits and letters of both cases (a slug has no upper case). */
const looksRandom = (s: string) => /\d/.test(s) && /[a-z]/.test(s) && /[A-Z]/.test(s)

/**
 * Keys of well-known services, by the prefixes their issuers document: GitHub, GitLab, Stripe,
 * AWS access key ids, Google API keys, Slack, npm, SendGrid, Hugging Face, Shopify, OpenAI.
 */
export const API_KEY: IdentifierKind = {
  id: 'api-key',
  placeholder: '[api-key]',
  label: 'API keys of well-known services (GitHub, Stripe, AWS, Google, Slack, …)',
  hint: String.raw`gh[pousr]_|github_pat_|glpat-|_live_|_test_|akia|asia|aiza|xox[abposr]-|npm_|sg\.|hf_|shpat_|sk-`,
  pattern: new RegExp(
    '(?<!\\w)(?:' +
      [
        String.raw`gh[pousr]_[A-Za-z0-9]{36,251}`,
        String.raw`github_pat_\w{22,251}`,
        String.raw`glpat-[\w-]{20,64}`,
        String.raw`(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}`,
        String.raw`(?:AKIA|ASIA)[0-9A-Z]{16}`,
        String.raw`AIza[\w-]{35}`,
        String.raw`xox[abposr]-[A-Za-z0-9-]{10,250}`,
        String.raw`npm_[A-Za-z0-9]{36}`,
        String.raw`SG\.[\w-]{22}\.[\w-]{43}`,
        String.raw`hf_[A-Za-z]{34}`,
        String.raw`shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}`,
        String.raw`sk-(?:proj-)?[\w-]{20,200}`,
      ].join('|') +
      ')(?![\\w-])',
    'g',
  ),
  // only OpenAI's `sk-` is a prefix a slug can have (`sk-ii-review-…`): its key must look random
  accept: (candidate) => !candidate.startsWith('sk-') || looksRandom(candidate),
}

/** The credential after `Bearer ` or `Basic ` (as a header pasted into a URL or a prop). */
export const BEARER: IdentifierKind = {
  id: 'bearer',
  placeholder: '[token]',
  label: 'Bearer and Basic credentials',
  hint: 'bearer|basic',
  pattern: /(?<=\b(?:[Bb]earer|[Bb]asic)(?: |\+|%20))[\w.~+/-]{8,}={0,2}/g,
}

/** Servlet, PHP and ASP session ids written into the path (`;jsessionid=…`) or as a parameter in text. */
export const SESSION_PARAMETER: IdentifierKind = {
  id: 'session-parameter',
  placeholder: '[session]',
  label: 'Session identifiers in addresses (;jsessionid=…, PHPSESSID=…)',
  hint: 'sessid|sessionid|session_id|sid=',
  pattern: /(?<=(?:^|[;?&\s])(?:jsessionid|phpsessid|aspsessionid\w{0,16}|sessionid|session_id|sessid|sid)=)[^/;?#&\s]{1,512}/gi,
}

/** A session id as a path segment after `/sid/`, `/session/` or `/sessions/`; it must look random (`/session/new` stays). */
export const SESSION_PATH: IdentifierKind = {
  id: 'session-path',
  placeholder: '[session]',
  label: 'Session identifiers in paths (/sid/…)',
  hint: '/sid/|/sess',
  pattern: /(?<=\/(?:sid|sess|session|sessions)\/)[^/;?#&\s]{8,512}/gi,
  accept: (candidate) => /\d/.test(candidate) && /[a-z]/i.test(candidate),
}

export const UUID: IdentifierKind = {
  id: 'uuid',
  placeholder: '[id]',
  label: 'UUIDs',
  hint: '[0-9a-f]{8}-',
  pattern: /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g,
}

/** 24 or more hex digits (a hash, a session id); `\b` lets a match start only where a word starts. */
export const HEX_TOKEN: IdentifierKind = {
  id: 'hex-token',
  placeholder: '[token]',
  label: 'Long hexadecimal tokens',
  hint: '[0-9a-f]{24}',
  pattern: /\b[0-9a-fA-F]{24,}\b/g,
}

/**
 * 32 or more base64/base64url characters that mix upper case, lower case and digits, or one
 * unbroken word with many digits; `how-to-write-tests-2024-and-beyond` is a slug.
 */
export const BASE64_TOKEN: IdentifierKind = {
  id: 'base64-token',
  placeholder: '[token]',
  label: 'Long random tokens (base64)',
  hint: '[0-9]',
  pattern: /(?<![\w+-])[\w+-]{32,}={0,2}/g,
  accept: (candidate) => {
    const digits = (candidate.match(/\d/g) ?? []).length
    if (digits === 0) return false
    const unbroken = !/[-_]/.test(candidate) && digits / candidate.length >= 0.2
    return looksRandom(candidate) || unbroken
  },
}
