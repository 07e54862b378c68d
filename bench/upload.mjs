// bench/upload.mjs DIR s3://BUCKET/PREFIX
//	Uploads every file of DIR under PREFIX, 16 at a time (the small objects;
//	the large one goes through tools/node/s3.mjs put, which does multipart).
import { readdirSync, readFileSync } from "node:fs";
import { s3, s3sdk } from "./lib.mjs";

const [dir, url] = process.argv.slice(2);
const m = /^s3:\/\/([^/]+)\/(.*)$/.exec(url ?? "");
if (!dir || !m) {
  console.error("usage: upload.mjs DIR s3://BUCKET/PREFIX");
  process.exit(2);
}
const files = readdirSync(dir).sort();
let next = 0;
async function worker() {
  while (next < files.length) {
    const f = files[next++];
    await s3.send(new s3sdk.PutObjectCommand({
      Bucket: m[1], Key: m[2] + f, Body: readFileSync(`${dir}/${f}`), ContentType: "application/gzip",
    }));
  }
}
await Promise.all(Array.from({ length: 16 }, worker));
console.log(`uploaded ${files.length} objects to ${url}`);
