// Small S3/SQS/SNS command line for shell scripts, tests, benchmarks and the demo,
// on the AWS SDK v3 clients. Talks to the emulator (or anything S3-compatible).
//
//   tools/node/node tools/node/s3.mjs [--endpoint URL] COMMAND ...
//
// Endpoint: --endpoint or $PIPELINE_S3_ENDPOINT. Credentials: $AWS_ACCESS_KEY_ID /
// $AWS_SECRET_ACCESS_KEY (default test/test), optional $AWS_SESSION_TOKEN.
// Region: $AWS_REGION (default us-east-1). S3 addressing is path-style.
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListObjectsV2Command,
  DeleteObjectCommand, CreateMultipartUploadCommand, UploadPartCommand,
  CompleteMultipartUploadCommand, AbortMultipartUploadCommand,
  PutBucketNotificationConfigurationCommand, GetBucketNotificationConfigurationCommand,
} from '@aws-sdk/client-s3';
import {
  SQSClient, CreateQueueCommand, GetQueueUrlCommand, GetQueueAttributesCommand,
  SendMessageCommand, ReceiveMessageCommand, DeleteMessageCommand,
} from '@aws-sdk/client-sqs';
import { SNSClient, CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';

const PART_SIZE = 8 * 1024 * 1024; // fauxqs refuses single PUT bodies over 11 MiB

const USAGE = `usage: s3.mjs [--endpoint URL] COMMAND ...
  mb BUCKET
  put s3://B/KEY [FILE|-] [--content-type T]      (multipart above 8 MiB)
  get s3://B/KEY [FILE|-]
  ls s3://B/[PREFIX] [--json]                      (key<TAB>size<TAB>etag per line)
  rm s3://B/KEY
  create-queue NAME [--visibility-timeout S] [--dlq NAME --max-receive N]   (prints the URL)
  create-topic NAME                                (prints the ARN)
  subscribe TOPIC_ARN QUEUE_NAME [--raw]           (prints the subscription ARN)
  notify BUCKET (--queue NAME | --topic ARN)... [--prefix P] [--suffix S] [--events E[,E...]] [--id ID]
  send QUEUE_NAME BODY
  receive QUEUE_NAME [--max N] [--wait S] [--delete]   (JSON array)
  queue-attrs QUEUE_NAME                           (JSON object)`;

class UsageError extends Error {}

function clients(endpoint) {
  const config = {
    endpoint,
    region: process.env.AWS_REGION || 'us-east-1',
    credentials: {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID || 'test',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY || 'test',
      ...(process.env.AWS_SESSION_TOKEN ? { sessionToken: process.env.AWS_SESSION_TOKEN } : {}),
    },
  };
  return {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    sqs: new SQSClient(config),
    sns: new SNSClient(config),
  };
}

function parseS3Url(url) {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/s.exec(url ?? '');
  if (!m) throw new UsageError(`expected s3://BUCKET/KEY, got '${url ?? ''}'`);
  return { bucket: m[1], key: m[2] };
}

/** Yields PART_SIZE buffers (the last one shorter) from a stream. */
async function* chunks(stream) {
  let pending = [];
  let size = 0;
  for await (const data of stream) {
    let buf = data;
    while (size + buf.length >= PART_SIZE) {
      const take = PART_SIZE - size;
      pending.push(buf.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      size = 0;
      buf = buf.subarray(take);
    }
    if (buf.length) { pending.push(buf); size += buf.length; }
  }
  if (size || !pending.length) yield Buffer.concat(pending);
}

async function put({ s3 }, url, file, contentType) {
  const { bucket, key } = parseS3Url(url);
  if (!key) throw new UsageError('put needs a key');
  const source = !file || file === '-' ? process.stdin : createReadStream(file);
  const parts = chunks(source);
  const first = (await parts.next()).value;
  const second = await parts.next();
  if (second.done) {
    // Small enough for one PUT. Always send a Content-Type: fauxqs cannot store
    // form-encoded bodies, and S3 would label them binary/octet-stream anyway.
    const r = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: first, ContentType: contentType }));
    return { bucket, key, size: first.length, etag: r.ETag };
  }
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }));
  try {
    const done = [];
    let size = 0;
    let partNumber = 1;
    for (let body = first, next = second; ; next = await parts.next()) {
      const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: partNumber, Body: body }));
      done.push({ PartNumber: partNumber++, ETag: r.ETag });
      size += body.length;
      if (next.done) break;
      body = next.value;
    }
    const r = await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: done } }));
    return { bucket, key, size, etag: r.ETag, parts: done.length };
  } catch (err) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    throw err;
  }
}

async function queueUrl({ sqs }, name) {
  return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
}

async function queueArn(c, name) {
  const r = await c.sqs.send(new GetQueueAttributesCommand({ QueueUrl: await queueUrl(c, name), AttributeNames: ['QueueArn'] }));
  return r.Attributes.QueueArn;
}

const print = (v) => process.stdout.write(typeof v === 'string' ? `${v}\n` : `${JSON.stringify(v, null, 2)}\n`);

async function run(argv) {
  const { values: o, positionals: args } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      endpoint: { type: 'string' },
      'content-type': { type: 'string', default: 'application/octet-stream' },
      json: { type: 'boolean' },
      'visibility-timeout': { type: 'string' },
      dlq: { type: 'string' },
      'max-receive': { type: 'string' },
      raw: { type: 'boolean' },
      queue: { type: 'string', multiple: true },
      topic: { type: 'string', multiple: true },
      prefix: { type: 'string' },
      suffix: { type: 'string' },
      events: { type: 'string', default: 's3:ObjectCreated:*' },
      id: { type: 'string' },
      max: { type: 'string', default: '10' },
      wait: { type: 'string', default: '0' },
      delete: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = args;
  if (o.help || !command) { print(USAGE); return; }
  const endpoint = o.endpoint || process.env.PIPELINE_S3_ENDPOINT;
  if (!endpoint) throw new UsageError('no endpoint: pass --endpoint URL or set PIPELINE_S3_ENDPOINT');
  const need = (n) => { if (rest.length < n) throw new UsageError(`${command}: missing argument`); };
  const c = clients(endpoint);

  switch (command) {
    case 'mb':
      need(1);
      await c.s3.send(new CreateBucketCommand({ Bucket: rest[0] }));
      return print(rest[0]);
    case 'put':
      need(1);
      return print(await put(c, rest[0], rest[1], o['content-type']));
    case 'get': {
      need(1);
      const { bucket, key } = parseS3Url(rest[0]);
      const r = await c.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const out = !rest[1] || rest[1] === '-' ? process.stdout : createWriteStream(rest[1]);
      return pipeline(r.Body, out, { end: out !== process.stdout });
    }
    case 'ls': {
      need(1);
      const { bucket, key: prefix } = parseS3Url(rest[0]);
      const objects = [];
      let ContinuationToken;
      do {
        const r = await c.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken }));
        for (const obj of r.Contents ?? []) objects.push({ key: obj.Key, size: obj.Size, etag: obj.ETag });
        ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (ContinuationToken);
      if (o.json) return print(objects);
      return process.stdout.write(objects.map((x) => `${x.key}\t${x.size}\t${x.etag}\n`).join(''));
    }
    case 'rm': {
      need(1);
      const { bucket, key } = parseS3Url(rest[0]);
      await c.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      return undefined;
    }
    case 'create-queue': {
      need(1);
      const Attributes = {};
      if (o['visibility-timeout']) Attributes.VisibilityTimeout = o['visibility-timeout'];
      if (o.dlq) {
        if (!o['max-receive']) throw new UsageError('--dlq needs --max-receive N');
        await c.sqs.send(new CreateQueueCommand({ QueueName: o.dlq }));
        Attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: await queueArn(c, o.dlq), maxReceiveCount: Number(o['max-receive']) });
      }
      const r = await c.sqs.send(new CreateQueueCommand({ QueueName: rest[0], Attributes }));
      return print(r.QueueUrl);
    }
    case 'create-topic':
      need(1);
      return print((await c.sns.send(new CreateTopicCommand({ Name: rest[0] }))).TopicArn);
    case 'subscribe': {
      need(2);
      const r = await c.sns.send(new SubscribeCommand({
        TopicArn: rest[0], Protocol: 'sqs', Endpoint: await queueArn(c, rest[1]), ReturnSubscriptionArn: true,
        ...(o.raw ? { Attributes: { RawMessageDelivery: 'true' } } : {}),
      }));
      return print(r.SubscriptionArn);
    }
    case 'notify': {
      need(1);
      if (!o.queue && !o.topic) throw new UsageError('notify needs at least one --queue NAME or --topic ARN');
      const Events = o.events.split(',').map((e) => e.trim()).filter(Boolean);
      const FilterRules = [['prefix', o.prefix], ['suffix', o.suffix]].filter(([, v]) => v !== undefined)
        .map(([Name, Value]) => ({ Name, Value }));
      const common = (i) => ({
        Events,
        ...(o.id ? { Id: `${o.id}${i ? `-${i}` : ''}` } : {}),
        ...(FilterRules.length ? { Filter: { Key: { FilterRules } } } : {}),
      });
      let i = 0;
      const QueueConfigurations = [];
      for (const name of o.queue ?? []) QueueConfigurations.push({ QueueArn: await queueArn(c, name), ...common(i++) });
      const TopicConfigurations = (o.topic ?? []).map((TopicArn) => ({ TopicArn, ...common(i++) }));
      await c.s3.send(new PutBucketNotificationConfigurationCommand({
        Bucket: rest[0], NotificationConfiguration: { QueueConfigurations, TopicConfigurations },
      }));
      const { $metadata, ...config } = await c.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: rest[0] }));
      return print(config);
    }
    case 'send': {
      need(2);
      const r = await c.sqs.send(new SendMessageCommand({ QueueUrl: await queueUrl(c, rest[0]), MessageBody: rest[1] }));
      return print(r.MessageId);
    }
    case 'receive': {
      need(1);
      const url = await queueUrl(c, rest[0]);
      const r = await c.sqs.send(new ReceiveMessageCommand({
        QueueUrl: url, MaxNumberOfMessages: Number(o.max), WaitTimeSeconds: Number(o.wait),
        MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'],
      }));
      const messages = r.Messages ?? [];
      if (o.delete) {
        for (const m of messages) await c.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
      }
      return print(messages);
    }
    case 'queue-attrs': {
      need(1);
      const r = await c.sqs.send(new GetQueueAttributesCommand({ QueueUrl: await queueUrl(c, rest[0]), AttributeNames: ['All'] }));
      return print(r.Attributes ?? {});
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

run(process.argv.slice(2)).catch((err) => {
  if (err instanceof UsageError || err.code?.startsWith?.('ERR_PARSE_ARGS')) {
    process.stderr.write(`s3.mjs: ${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  const status = err.$metadata?.httpStatusCode;
  process.stderr.write(`s3.mjs: ${err.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${err.message}\n`);
  process.exit(1);
});
