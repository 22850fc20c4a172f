// CLI entry of the Acme IP camera emulator, for use with targets/acme-cam.yaml:
//
//   npm run build
//   node dist/targets/updaters/acme-cam/main.js --port 18080 --images targets/acme-images
//
// writes a freshly signed image set into --images (acme-5.3.bin, acme-5.1.bin),
// starts the camera on 127.0.0.1:--port, prints the environment variables the
// target file reads (as `export` lines) and runs until Ctrl-C. Passwords come
// from ACME_ADMIN_PASS / ACME_VIEWER_PASS when set, otherwise are random.
// --weakness NAME (repeatable) switches a weakness on (see ACME_WEAKNESSES).

import { parseArgs } from 'node:util';
import { ACME_WEAKNESSES, ACME_WEAKNESS_INFO, startAcmeCam, type AcmeWeakness } from './camera.js';

const usage = `usage: main.js [--port 18080] [--images targets/acme-images] [--weakness NAME]...
weaknesses:
${ACME_WEAKNESSES.map((w) => `  ${w.padEnd(20)} ${ACME_WEAKNESS_INFO[w]}`).join('\n')}`;

const shellQuote = (s: string) => (/^[A-Za-z0-9_\-.]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '18080' },
      images: { type: 'string', default: 'targets/acme-images' },
      weakness: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: expected 0-65535, got "${values.port}"`);
  const weaknesses = values.weakness.map((w) => {
    if (!(ACME_WEAKNESSES as readonly string[]).includes(w)) throw new Error(`--weakness: unknown "${w}"\n${usage}`);
    return w as AcmeWeakness;
  });
  const cam = await startAcmeCam({
    port,
    imagesDir: values.images,
    weaknesses,
    adminPass: process.env.ACME_ADMIN_PASS,
    viewerPass: process.env.ACME_VIEWER_PASS,
    log: (line) => console.error(`[acme-cam] ${line}`),
  });
  console.log(`# Acme IP camera at ${cam.url} (firmware ${cam.version()}); images in ${cam.images.dir}`);
  console.log(`export ACME_ADMIN_PASS=${shellQuote(cam.credentials.admin.pass)}`);
  console.log(`export ACME_VIEWER_PASS=${shellQuote(cam.credentials.viewer.pass)}`);
  console.log('# then: gauntlet run --target targets/acme-cam.yaml   (--only update.tamper,update.rollback,... for some checks; Ctrl-C stops the camera)');
  const stop = () => {
    void cam.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  console.error(`acme-cam: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
