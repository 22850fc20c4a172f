// Public API of the Acme IP camera emulator: a second, hardened firmware
// updater unlike the reference device (CGI routes, Basic auth, PUT of a raw
// "ACME" image with CRC-32 and an RSA signature), described to Gauntlet only
// by targets/acme-cam.yaml.

export { ACME_CONTENT_TYPE, ACME_MAX_IMAGE_BYTES, ACME_WEAKNESSES, ACME_WEAKNESS_INFO, startAcmeCam, type AcmeCamOptions, type AcmeWeakness, type RunningAcmeCam } from './camera.js';
export { buildImage, crc32, verifyImage, versionCode, versionString, HEADER_BYTES, SIGNATURE_BYTES } from './image.js';
export { BASELINE_VERSION, NEWER_VERSION, OLDER_VERSION, NEWER_FILE, OLDER_FILE, firmwarePayload, generateSigningKeys, makeImages, type AcmeImageSet, type ImageRef, type SigningKeys } from './make-images.js';
