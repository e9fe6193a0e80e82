// The sharp side of scripts/bench_sharp.py: THUMBNAIL (150x150, attention crop), MEDIUM
// (800x600 inside) and LARGE (1920x1080 inside) of every input, from one decode, with as many
// images in flight as cores. Same output settings as the worker: EXIF orientation applied,
// sRGB, no metadata, never enlarged, JPEG at the given quality, progressive, optimised tables.
//
//   node thumbnails.mjs OUT_DIR QUALITY FILE...     prints one JSON line
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import sharp from "sharp";

const [outDir, qualityText, ...files] = process.argv.slice(2);
const quality = Number(qualityText);
const jpeg = { quality, progressive: true, optimiseCoding: true };
const inside = { fit: "inside", withoutEnlargement: true };

async function threeSizes(file, index) {
  // One decode (shrink-on-load), upright, sRGB, at the LARGE size; the others from it.
  const { data, info } = await sharp(file, { failOn: "error" })
    .rotate()
    .resize(1920, 1080, inside)
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  const small = await sharp(data, raw).resize(800, 600, inside).raw().toBuffer({ resolveWithObject: true });
  const medium = small.data;
  const mediumRaw = { raw: { width: small.info.width, height: small.info.height, channels: small.info.channels } };
  await Promise.all([
    sharp(data, raw).jpeg(jpeg).toFile(`${outDir}/${index}-large.jpg`),
    sharp(medium, mediumRaw).jpeg(jpeg).toFile(`${outDir}/${index}-medium.jpg`),
    sharp(medium, mediumRaw)
      .resize(150, 150, { fit: "cover", position: "attention", withoutEnlargement: true })
      .jpeg(jpeg)
      .toFile(`${outDir}/${index}-thumbnail.jpg`),
  ]);
}

async function all(inputs, inFlight) {
  let next = 0;
  const lane = async () => {
    while (next < inputs.length) {
      const index = next++;
      await threeSizes(inputs[index], index);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

const inFlight = availableParallelism();
await threeSizes(files[0], "warm"); // libraries loaded, code paths touched
const started = performance.now();
await all(files, inFlight);
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    images: files.length,
    seconds,
    images_per_s: files.length / seconds,
    in_flight: inFlight,
    libvips_threads: sharp.concurrency(),
    sharp: sharp.versions.sharp,
    libvips: sharp.versions.vips,
  }),
);
