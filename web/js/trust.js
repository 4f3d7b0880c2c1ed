// trust.js — the pinned trust root (proto/PROTOCOL.md §6 "Trust root", deploy/README.md).
//
// The keys this client trusts come from /trust-root.json, a static file of the
// published client. The page names it in <link rel="preload"
// href="/trust-root.json" integrity="sha384-…">, and it is fetched with that
// integrity: a server that serves another file makes the fetch fail. Nothing
// the server says at run time (/config.json, `keys`) can add a key. If
// /config.json names an organisation key that is not pinned here, the server
// is not the one this client was published for: the page refuses to start.
import { b64decode, fail } from './protocol.js';
import DE from './lang/de.js';
import EN from './lang/en.js';

export const TRUST_ROOT_PATH = '/trust-root.json';
export const TRUST_ROOT_FORMAT = 'lotse-trust-root-v1';
/** An organisation Ed25519 key: it signs counsellor device certificates. */
export const ROOT_KIND_ORG = 'org';

/** The young person's refusal and safety-code texts (lang/de.js, lang/en.js). */
const pickTrust = (texts) =>
    Object.fromEntries(Object.entries(texts).filter(([k]) => k.startsWith('untrusted.') || k.startsWith('safety.')));

/** Texts for the refusal and the safety code on the staff pages, German and
 * English (i18n.addTexts); the young person's page has them in lang/*.js. */
export const TRUST_TEXTS = {
    de: {
        ...pickTrust(DE),
        'safety.counsellor': 'Die junge Person sieht denselben Code, wenn niemand dazwischen mitliest. Vergleicht ihn nur auf einem anderen Weg, zum Beispiel am Telefon.',
    },
    en: {
        ...pickTrust(EN),
        'safety.counsellor': 'The young person sees the same code if nobody reads in between. Compare it only another way, for example on the phone.',
    },
};

/** The reason a page refuses: 'missing' | 'broken' | 'mismatch' in err.reason. */
function refusal(reason, message) {
    return Object.assign(fail('EKEYREJECTED', message), { reason });
}

/**
 * Parses the text of a trust-root file. Returns {orgKeys: [Uint8Array(32)…],
 * roots: [{kind, label, key}]}. Roots of kinds this client does not know are
 * kept in `roots` but never used. Throws EKEYREJECTED (reason 'broken' for a
 * malformed file, 'missing' when it pins no organisation key).
 */
export function parseTrustRoot(text) {
    let doc;
    try {
        doc = JSON.parse(text);
    } catch {
        throw refusal('broken', 'trust root is not JSON');
    }
    if (!doc || doc.format !== TRUST_ROOT_FORMAT || !Array.isArray(doc.roots)) {
        throw refusal('broken', 'trust root has another format');
    }
    const orgKeys = [];
    const roots = [];
    for (const r of doc.roots) {
        if (!r || typeof r.kind !== 'string' || typeof r.key !== 'string') throw refusal('broken', 'trust root entry');
        let key;
        try {
            key = b64decode(r.key);
        } catch {
            throw refusal('broken', 'trust root key is not base64url');
        }
        if (key.length !== 32) throw refusal('broken', 'trust root key is not 32 bytes');
        roots.push({ kind: r.kind, label: typeof r.label === 'string' ? r.label : '', key });
        if (r.kind === ROOT_KIND_ORG) orgKeys.push(key);
    }
    if (orgKeys.length === 0) throw refusal('missing', 'no organisation key pinned');
    return { orgKeys, roots };
}

/**
 * Loads the pinned roots with the integrity the page names. Throws
 * EKEYREJECTED with reason 'broken' when the page names none or the served file
 * does not match it.
 */
export async function loadTrustRoot(doc = document) {
    const link = doc.querySelector(`link[rel="preload"][href="${TRUST_ROOT_PATH}"]`);
    const integrity = link && link.getAttribute('integrity');
    if (!integrity) throw refusal('broken', 'the page names no trust root integrity');
    let text;
    try {
        const r = await fetch(TRUST_ROOT_PATH, { integrity, credentials: 'same-origin', mode: 'cors' });
        if (!r.ok) throw new Error(String(r.status));
        text = await r.text();
    } catch (e) {
        throw refusal('broken', `trust root did not load: ${e.message || e}`);
    }
    return parseTrustRoot(text);
}

/**
 * Compares what the server says at run time with the pinned roots: if
 * /config.json names an organisation key, it must be one of them. Throws
 * EKEYREJECTED (reason 'mismatch') otherwise.
 */
export function checkServerKey(config, trust) {
    const named = config && config.org_public_key;
    if (named === undefined || named === null) return;
    let key = null;
    try {
        key = typeof named === 'string' ? b64decode(named) : null;
    } catch {
        key = null;
    }
    const same = (k) => key && k.length === key.length && k.every((x, i) => x === key[i]);
    if (!trust.orgKeys.some(same)) {
        throw refusal('mismatch', 'the server names an organisation key that is not pinned');
    }
}
