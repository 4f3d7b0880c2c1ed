// child-lotsed.mjs — a second lotsed for a browser test, on the run's database
// and published client (run.sh's environment), with settings of its own as
// command-line arguments (e.g. opening hours that make the chat closed now).
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

const env = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run tests/browser/run.sh`);
    return v;
};

function freePort() {
    return new Promise((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

/**
 * Starts lotsed with args after the run's database, web root and organisation
 * key, logging to tests/artifacts/<name>.log; resolves with {proc, url} once
 * /healthz says the database is up (kill proc with SIGTERM when done).
 */
export async function startChildLotsed(name, args) {
    const port = await freePort();
    const bin = join(dirname(env('LOTSECTL')), 'lotsed');
    const log = openSync(join(env('LOTSE_ARTIFACTS'), `${name}.log`), 'w');
    const proc = spawn(bin, ['--db', env('LOTSE_DB'), '--listen-address', '127.0.0.1', '--listen-port', String(port),
        '--web-root', env('LOTSE_WEB'), '--org-public-key', env('LOTSE_ORG_PUB'), '--log-level', 'info', ...args],
    { stdio: ['ignore', log, log] });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
        try {
            const r = await fetch(`${url}/healthz`);
            if (r.ok && (await r.text()).includes('"db":"up"')) return { proc, url };
        } catch {
            /* not up yet */
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    proc.kill('SIGTERM');
    throw new Error(`the second lotsed did not come up (tests/artifacts/${name}.log)`);
}
