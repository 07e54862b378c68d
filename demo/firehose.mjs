// demo/firehose.mjs BUCKET PREFIX OBJECTS [FIRST [LAST]]
//	Plays Kinesis Firehose for the demo: a week of heartbeats of five IoT
//	devices (battery draining, recharged now and then), delivered as
//	OBJECTS gzip objects under PREFIX/YYYY/MM/DD/HH/, records back to back
//	without newlines, some objects made of two gzip members.  One PUT every
//	half second, as the notifications would trickle in.  FIRST..LAST
//	(1-based, all by default) delivers only those objects of the week, so
//	that one week can arrive in two calls; the week ends at FIREHOSE_END
//	(an ISO time; default: this hour) so that both calls see the same one.
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";

const require = createRequire(new URL("../tools/node/package.json", import.meta.url));
const { S3Client, PutObjectCommand } = require("@aws-sdk/client-s3");

const [bucket, prefix, objectsArg, firstArg, lastArg] = process.argv.slice(2);
const objects = Number(objectsArg ?? 14);
const first = Number(firstArg ?? 1);
const last = Number(lastArg ?? objects);
const s3 = new S3Client({
  endpoint: process.env.PIPELINE_S3_ENDPOINT, region: "us-east-1", forcePathStyle: true,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

const devices = ["sensor-kitchen", "sensor-garage", "tracker-bike", "tracker-dog", "meter-basement"];
const drain = [0.55, 0.8, 1.3, 1.9, 0.35]; // % per hour
const end = process.env.FIREHOSE_END ? new Date(process.env.FIREHOSE_END) : new Date();
end.setUTCMinutes(0, 0, 0);
const start = new Date(end.getTime() - 7 * 24 * 3600 * 1000);
const hours = 7 * 24;

// every device reports every 10 minutes
const records = [];
const level = devices.map((_, i) => 60 + 8 * i);
for (let m = 0; m < hours * 6; m++) {
  const ts = new Date(start.getTime() + m * 600 * 1000);
  devices.forEach((d, i) => {
    level[i] -= drain[i] / 6;
    if (level[i] < 12) level[i] = 98; // recharged
    records.push({
      device_id: d, ts: ts.toISOString(), battery: Math.round(level[i] * 10) / 10,
      voltage: Math.round((3.3 + level[i] / 100) * 1000) / 1000, rssi: -40 - ((m + i * 7) % 50),
      status: level[i] < 20 ? "low" : "ok", loc: { lat: Math.round((52.52 + i / 100) * 1e4) / 1e4, lon: Math.round((13.40 + i / 100) * 1e4) / 1e4 },
    });
  });
}

const per = Math.ceil(records.length / objects);
for (let o = first - 1; o < Math.min(objects, last); o++) {
  const chunk = records.slice(o * per, (o + 1) * per);
  if (chunk.length === 0) break;
  const path = new Date(chunk[0].ts).toISOString().slice(0, 13).replace(/[-T]/g, "/");
  const key = `${prefix}${path}/firehose-${o + 1}.json.gz`;
  // Firehose writes records back to back, without newlines
  const text = chunk.map((r) => JSON.stringify(r)).join("");
  const half = text.lastIndexOf("}{", text.length >> 1) + 1;
  const body = o % 3 === 0
    ? Buffer.concat([gzipSync(text.slice(0, half)), gzipSync(text.slice(half))]) // two gzip members
    : gzipSync(text);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/octet-stream" }));
  console.log(`  put s3://${bucket}/${key} (${chunk.length} records, ${body.length} bytes)`);
  await new Promise((r) => setTimeout(r, 500));
}
