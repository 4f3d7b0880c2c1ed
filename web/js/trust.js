// trust.js — the pinned trust root (proto/PROTOCOL.md §6 "Trust root", deploy/README.md).
//
// The keys this client trusts come from /trust-root.json, a static file of the
// published client. The page names it in <link rel="preload"
// href="/trust-root.json" integrity="sha384-…">, and it is fetched with that
// integrity: a server that serves another file makes the fetch fail. Nothing
// the server says at run time (/config.json, `keys`) can add a key. If
// /config.json names an organisation key that is not pinned here, the server
// is not the one this client was published for: the page refuses to start.
//
// A counselling network pins its network key (kind "network") instead of, or
// beside, organisation keys: a device is then also trusted when the
// organisation certificate that comes with it (§6 "Organisation certificate")
// verifies under a pinned network key, and its organisation's name is read
// from that certificate, never from what the server says.
import { verifyCert, verifyCertPinned, verifyOrgCertPinned, verifyTranscript } from './crypto.js';
import { b64decode, fail } from './protocol.js';
import DE from './lang/de.js';
import EN from './lang/en.js';

export const TRUST_ROOT_PATH = '/trust-root.json';
export const TRUST_ROOT_FORMAT = 'lotse-trust-root-v1';
/** An organisation Ed25519 key: it signs counsellor device certificates. */
export const ROOT_KIND_ORG = 'org';
/** A network Ed25519 key: it certifies organisation keys (the chain). */
export const ROOT_KIND_NETWORK = 'network';

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
 * netKeys: [Uint8Array(32)…], roots: [{kind, label, key}]}. Roots of kinds this
 * client does not know are kept in `roots` but never used. Throws EKEYREJECTED
 * (reason 'broken' for a malformed file, 'missing' when it pins neither an
 * organisation nor a network key).
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
    const netKeys = [];
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
        if (r.kind === ROOT_KIND_NETWORK) netKeys.push(key);
    }
    if (orgKeys.length === 0 && netKeys.length === 0) throw refusal('missing', 'no organisation or network key pinned');
    return { orgKeys, netKeys, roots };
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
 * EKEYREJECTED (reason 'mismatch') otherwise. A client that pins a network key
 * does not compare: in a network every organisation has its own key, and the
 * chain decides for each device.
 */
export function checkServerKey(config, trust) {
    const named = config && config.org_public_key;
    if (named === undefined || named === null) return;
    if (trust.netKeys && trust.netKeys.length > 0) return;
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

/**
 * The organisation keys the certificates `orgCerts` (Uint8Array each) certify
 * under the pinned network keys at unix time `now`: [{orgPk, name, orgId}].
 * Certificates that do not verify are left out.
 */
export function chainOrgKeys(orgCerts, trust, now) {
    const out = [];
    for (const oc of orgCerts) {
        try {
            out.push(verifyOrgCertPinned(oc, trust.netKeys || [], now));
        } catch {
            // a certificate the pinned network keys did not sign certifies nothing
        }
    }
    return out;
}

/**
 * Everything the young person checks before sending a word (§4.1, §6): the
 * device certificate under a pinned organisation key, or through the chain
 * (orgCert under a pinned network key, then the certificate under the key it
 * certifies); then the transcript signature over ITS OWN key. Returns
 * {cert, org} — org {name, orgId} only when the chain verified. Throws
 * (EBADMSG, EPERM, EKEYEXPIRED) when neither path holds.
 */
export function verifyCounsellor({ cert, orgCert, sig, counsellorPk, sid, ownPk, trust, now }) {
    let c = null;
    let org = null;
    let err = fail('EPERM', 'no pinned key verifies the certificate');
    if (orgCert && trust.netKeys && trust.netKeys.length > 0) {
        try {
            const o = verifyOrgCertPinned(orgCert, trust.netKeys, now);
            c = verifyCert(cert, o.orgPk, now);
            org = { name: o.name, orgId: o.orgId };
        } catch (e) {
            err = e;
        }
    }
    if (!c && trust.orgKeys.length > 0) c = verifyCertPinned(cert, trust.orgKeys, now);
    if (!c) throw err;
    verifyTranscript(sig, c.devicePk, sid, ownPk, counsellorPk);
    return { cert: c, org };
}

/**
 * Adds to trust.orgKeys the organisation keys that the certificates
 * `certsB64` (base64url strings, as `login_ok`'s orgcert and `mail_orgcerts`
 * carry them) certify under the pinned network keys. The counsellor's console
 * uses it: a colleague's device of a certified organisation is then trusted as
 * one of a pinned organisation key. Returns the verified [{orgPk, name, orgId}].
 */
export function trustOrgCerts(trust, certsB64, now) {
    const certs = [];
    for (const c of certsB64) {
        try {
            if (typeof c === 'string') certs.push(b64decode(c));
        } catch {
            // not base64url: certifies nothing
        }
    }
    const got = chainOrgKeys(certs, trust, now);
    for (const o of got) {
        if (!trust.orgKeys.some((k) => k.every((x, i) => x === o.orgPk[i]))) trust.orgKeys.push(o.orgPk);
    }
    return got;
}
