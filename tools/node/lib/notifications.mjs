// S3 bucket event notifications, which fauxqs lacks: the configuration
// (PutBucketNotificationConfiguration / GetBucketNotificationConfiguration), the
// event records as real S3 shapes them, and delivery into fauxqs's own SQS queues
// and SNS topics in-process.
import { randomBytes, randomUUID } from 'node:crypto';

// Every event type S3 accepts in a notification configuration.
const KNOWN_EVENTS = new Set([
  's3:ObjectCreated:*', 's3:ObjectCreated:Put', 's3:ObjectCreated:Post', 's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload', 's3:ObjectRemoved:*', 's3:ObjectRemoved:Delete',
  's3:ObjectRemoved:DeleteMarkerCreated', 's3:ObjectRestore:*', 's3:ObjectRestore:Post',
  's3:ObjectRestore:Completed', 's3:ObjectRestore:Delete', 's3:ReducedRedundancyLostObject',
  's3:Replication:*', 's3:Replication:OperationFailedReplication', 's3:Replication:OperationMissedThreshold',
  's3:Replication:OperationReplicatedAfterThreshold', 's3:Replication:OperationNotTracked',
  's3:LifecycleExpiration:*', 's3:LifecycleExpiration:Delete', 's3:LifecycleExpiration:DeleteMarkerCreated',
  's3:LifecycleTransition', 's3:IntelligentTiering', 's3:ObjectTagging:*', 's3:ObjectTagging:Put',
  's3:ObjectTagging:Delete', 's3:ObjectAcl:Put',
]);
const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const OWNER = { principalId: 'A3NL1KOZZKEXAMPLE' };

export class ConfigError extends Error {
  constructor(code, message, status = 400) { super(message); this.code = code; this.status = status; }
}

// --- minimal XML helpers: the configuration document is small and flat --------
const unescapeXml = (s) => s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e) => {
  if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : +e.slice(1));
  return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e.toLowerCase()];
});
export const escapeXml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]);
/** Inner text of every <tag>...</tag> (or nothing for <tag/>), ignoring namespace prefixes. */
function elements(xml, tag) {
  const re = new RegExp(`<(?:\\w+:)?${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</(?:\\w+:)?${tag}>)`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1] ?? '');
}
const text = (xml, tag) => { const e = elements(xml, tag)[0]; return e === undefined ? undefined : unescapeXml(e.trim()); };

/**
 * PutBucketNotificationConfiguration body -> [{ id, type, arn, events, prefix, suffix }].
 * `destinationExists(type, arn)` validates targets as S3 does before accepting.
 */
export function parseNotificationConfiguration(xml, destinationExists) {
  if (!/<(\w+:)?NotificationConfiguration[\s>/]/.test(xml)) {
    throw new ConfigError('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  }
  if (elements(xml, 'CloudFunctionConfiguration').length || elements(xml, 'LambdaFunctionConfiguration').length) {
    throw new ConfigError('InvalidArgument', 'Lambda destinations are not supported by this emulator');
  }
  const configs = [];
  for (const [type, tag, arnTag] of [['queue', 'QueueConfiguration', 'Queue'], ['topic', 'TopicConfiguration', 'Topic']]) {
    for (const block of elements(xml, tag)) {
      const arn = text(block, arnTag);
      if (!arn) throw new ConfigError('InvalidArgument', `${tag} is missing its ${arnTag} ARN`);
      const events = elements(block, 'Event').map((e) => unescapeXml(e.trim()));
      if (!events.length) throw new ConfigError('InvalidArgument', `${tag} needs at least one Event`);
      for (const e of events) {
        if (!KNOWN_EVENTS.has(e)) throw new ConfigError('InvalidArgument', `The event is not supported for notifications: ${e}`);
      }
      const config = { id: text(block, 'Id') || randomUUID(), type, arn, events, prefix: '', suffix: '' };
      for (const rule of elements(block, 'FilterRule')) {
        const name = (text(rule, 'Name') ?? '').toLowerCase();
        if (name !== 'prefix' && name !== 'suffix') {
          throw new ConfigError('InvalidArgument', `filter rule name must be either prefix or suffix, got ${text(rule, 'Name')}`);
        }
        config[name] = text(rule, 'Value') ?? '';
      }
      if (arn.endsWith('.fifo')) {
        throw new ConfigError('InvalidArgument', 'FIFO queues and topics are not supported as S3 event destinations');
      }
      if (destinationExists && !destinationExists(type, arn)) {
        throw new ConfigError('InvalidArgument', `Unable to validate the following destination configurations: ${arn}`);
      }
      configs.push(config);
    }
  }
  return configs;
}

/** The GetBucketNotificationConfiguration answer for a stored configuration. */
export function notificationConfigurationXml(configs) {
  const body = configs.map((c) => {
    const [tag, arnTag] = c.type === 'queue' ? ['QueueConfiguration', 'Queue'] : ['TopicConfiguration', 'Topic'];
    const rules = [['Prefix', c.prefix], ['Suffix', c.suffix]].filter(([, v]) => v)
      .map(([n, v]) => `<FilterRule><Name>${n}</Name><Value>${escapeXml(v)}</Value></FilterRule>`).join('');
    return `<${tag}><Id>${escapeXml(c.id)}</Id><${arnTag}>${escapeXml(c.arn)}</${arnTag}>` +
      c.events.map((e) => `<Event>${escapeXml(e)}</Event>`).join('') +
      (rules ? `<Filter><S3Key>${rules}</S3Key></Filter>` : '') + `</${tag}>`;
  }).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<NotificationConfiguration xmlns="${XMLNS}">${body}</NotificationConfiguration>`;
}

/**
 * Keys in S3 event records are form-URL-encoded: space becomes '+', '/' and the
 * RFC 3986 unreserved characters stay, every other UTF-8 byte becomes %XX.
 * `dir/a b+c=&é%.txt` -> `dir/a+b%2Bc%3D%26%C3%A9%25.txt`.
 */
export function encodeEventKey(key) {
  let out = '';
  for (const byte of Buffer.from(key, 'utf8')) {
    if (byte === 0x20) out += '+';
    else if (/[A-Za-z0-9\-_.~/]/.test(String.fromCharCode(byte))) out += String.fromCharCode(byte);
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Which configured event names cover an emitted event name such as ObjectCreated:Put. */
function matchesEvent(configured, eventName) {
  const full = `s3:${eventName}`;
  return configured.some((e) => e === full || (e.endsWith(':*') && full.startsWith(e.slice(0, -1))));
}

/**
 * Per-bucket configurations plus delivery. The stores are fauxqs's own, so events
 * land in queues exactly as SendMessage / Publish would put them there.
 */
export class Notifier {
  constructor({ sqsStore, snsStore, SqsStore, fanOutToSubscriptions, region }) {
    Object.assign(this, { sqsStore, snsStore, SqsStore, fanOutToSubscriptions, region });
    this.configs = new Map(); // bucket -> [config]
    this.lastSequencer = 0n;
  }

  destinationExists(type, arn) {
    return type === 'queue' ? Boolean(this.sqsStore.getQueueByArn(arn)) : Boolean(this.snsStore.getTopic(arn));
  }

  /** Store a bucket's configuration and send s3:TestEvent to each new destination, as S3 does. */
  configure(bucket, configs, requestId) {
    if (configs.length) this.configs.set(bucket, configs);
    else this.configs.delete(bucket);
    const seen = new Set();
    for (const c of configs) {
      if (seen.has(c.arn)) continue;
      seen.add(c.arn);
      this.deliver(c, JSON.stringify({
        Service: 'Amazon S3', Event: 's3:TestEvent', Time: new Date().toISOString(),
        Bucket: bucket, RequestId: requestId, HostId: randomBytes(48).toString('base64'),
      }));
    }
  }

  hasConfig(bucket) { return this.configs.has(bucket); }
  dropBucket(bucket) { this.configs.delete(bucket); }

  /**
   * Sequencers only need to grow for one key; a millisecond clock with a counter
   * in the low bits keeps them increasing across the whole process, fixed width hex.
   */
  nextSequencer() {
    const candidate = BigInt(Date.now()) << 20n;
    this.lastSequencer = candidate > this.lastSequencer ? candidate : this.lastSequencer + 1n;
    return this.lastSequencer.toString(16).toUpperCase().padStart(18, '0');
  }

  /**
   * One S3 event: `object` is { key, size?, etag? } (size/etag absent for removals).
   * `request` carries accessKeyId, sourceIp, requestId, hostId of the S3 request.
   */
  emit(bucket, eventName, object, request) {
    const matching = (this.configs.get(bucket) ?? []).filter((c) => matchesEvent(c.events, eventName) &&
      object.key.startsWith(c.prefix) && object.key.endsWith(c.suffix));
    if (!matching.length) return;
    const sequencer = this.nextSequencer();
    const eventTime = new Date().toISOString();
    for (const c of matching) {
      const obj = { key: encodeEventKey(object.key) };
      if (object.size !== undefined) obj.size = object.size;
      if (object.etag !== undefined) obj.eTag = object.etag.replaceAll('"', '');
      obj.sequencer = sequencer;
      const record = {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: this.region,
        eventTime,
        eventName,
        userIdentity: { principalId: `AWS:${request.accessKeyId ?? 'anonymous'}` },
        requestParameters: { sourceIPAddress: request.sourceIp },
        responseElements: { 'x-amz-request-id': request.requestId, 'x-amz-id-2': request.hostId },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: c.id,
          bucket: { name: bucket, ownerIdentity: OWNER, arn: `arn:aws:s3:::${bucket}` },
          object: obj,
        },
      };
      this.deliver(c, JSON.stringify({ Records: [record] }));
    }
  }

  /** Queue: the JSON is the message body. Topic: fauxqs's fan-out wraps it per subscription. */
  deliver(config, body) {
    if (config.type === 'queue') {
      const queue = this.sqsStore.getQueueByArn(config.arn);
      if (queue) queue.enqueue(this.SqsStore.createMessage(body));
      return;
    }
    const topic = this.snsStore.getTopic(config.arn);
    if (!topic) return;
    this.fanOutToSubscriptions({
      topicArn: config.arn, topic, messageId: randomUUID(), message: body, messageAttributes: {},
      subject: 'Amazon S3 Notification', snsStore: this.snsStore, sqsStore: this.sqsStore,
    });
  }
}
