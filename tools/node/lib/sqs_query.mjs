// SQS's query protocol (form-encoded POST, XML answers), translated to and
// from the JSON protocol fauxqs speaks.  Older AWS CLIs and SDKs, Debian 12's
// AWS CLI v2 (2.9) among them, speak only this to SQS: with it, `aws sqs ...`
// works against the emulator.  Written from AWS's SQS API reference (query
// API: flattened lists and maps, <ActionResponse><ActionResult>).
import { randomBytes } from 'node:crypto';
import { escapeXml } from './notifications.mjs';

export const SQS_XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';

/** The actions the emulator's SQS handles (fauxqs's), by their query name. */
export const SQS_ACTIONS = new Set([
  'CreateQueue', 'DeleteQueue', 'GetQueueUrl', 'ListQueues', 'GetQueueAttributes', 'SetQueueAttributes',
  'PurgeQueue', 'SendMessage', 'SendMessageBatch', 'ReceiveMessage', 'DeleteMessage', 'DeleteMessageBatch',
  'ChangeMessageVisibility', 'ChangeMessageVisibilityBatch', 'TagQueue', 'UntagQueue', 'ListQueueTags',
]);

const NUMBERS = new Set(['DelaySeconds', 'MaxNumberOfMessages', 'VisibilityTimeout', 'WaitTimeSeconds', 'MaxResults']);
const LISTS = { AttributeName: 'AttributeNames', MessageAttributeName: 'MessageAttributeNames',
  MessageSystemAttributeName: 'MessageSystemAttributeNames', TagKey: 'TagKeys' };
const ENTRIES = new Set(['SendMessageBatchRequestEntry', 'DeleteMessageBatchRequestEntry',
  'ChangeMessageVisibilityBatchRequestEntry']);

/** "A.1.B" = v, ... -> { A: { 1: { B: v } } } */
function unflatten(form) {
  const root = {};
  for (const [name, value] of Object.entries(form)) {
    const parts = name.split('.');
    let o = root;
    parts.forEach((p, i) => {
      if (i === parts.length - 1) o[p] = value;
      else o = (o[p] !== null && typeof o[p] === 'object') ? o[p] : (o[p] = {});
    });
  }
  return root;
}

/** { 1: x, 2: y } (member numbers) -> [x, y] */
const members = (o) => (o && typeof o === 'object'
  ? Object.keys(o).filter((k) => /^\d+$/.test(k)).sort((a, b) => a - b).map((k) => o[k]) : []);

const messageAttributes = (o) => Object.fromEntries(members(o).map((m) => [m.Name, {
  DataType: m.Value?.DataType,
  ...(m.Value?.StringValue !== undefined ? { StringValue: m.Value.StringValue } : {}),
  ...(m.Value?.BinaryValue !== undefined ? { BinaryValue: m.Value.BinaryValue } : {}),
}]));

/** One request's (or batch entry's) parameters, query form -> JSON form. */
function convert(params, action) {
  const out = {};
  for (const [key, value] of Object.entries(params)) {
    if (NUMBERS.has(key)) out[key] = Number(value);
    else if (key === 'Attribute') out.Attributes = Object.fromEntries(members(value).map((a) => [a.Name, a.Value]));
    else if (key in LISTS) out[LISTS[key]] = members(value);
    else if (key === 'MessageAttribute') out.MessageAttributes = messageAttributes(value);
    else if (key === 'MessageSystemAttribute') out.MessageSystemAttributes = messageAttributes(value);
    else if (key === 'Tag') out[action === 'CreateQueue' ? 'tags' : 'Tags'] = Object.fromEntries(members(value).map((t) => [t.Key, t.Value]));
    else if (ENTRIES.has(key)) out.Entries = members(value).map((e) => convert(e, action));
    else out[key] = value;
  }
  return out;
}

/** A form-encoded SQS request (fields as parsed) -> { action, body } for the JSON protocol. */
export function queryToJson(form) {
  const { Action: action, Version: _version, ...rest } = form;
  return { action, body: convert(unflatten(rest), action) };
}

const el = (name, value) => (value === undefined || value === null ? '' : `<${name}>${escapeXml(String(value))}</${name}>`);
const fields = (o, names) => names.map((n) => el(n, o?.[n])).join('');
const attributes = (map) => Object.entries(map ?? {})
  .map(([k, v]) => `<Attribute>${el('Name', k)}${el('Value', v)}</Attribute>`).join('');
const messageAttributesXml = (map) => Object.entries(map ?? {}).map(([k, v]) =>
  `<MessageAttribute>${el('Name', k)}<Value>${fields(v, ['StringValue', 'BinaryValue', 'DataType'])}</Value></MessageAttribute>`).join('');
const batch = (r, okEntry, okFields) =>
  (r.Successful ?? []).map((e) => `<${okEntry}>${fields(e, okFields)}</${okEntry}>`).join('') +
  (r.Failed ?? []).map((e) => `<BatchResultErrorEntry>${fields(e, ['Id', 'SenderFault', 'Code', 'Message'])}</BatchResultErrorEntry>`).join('');

/** The <ActionResult> contents of a JSON answer, or undefined for actions that answer nothing. */
function resultXml(action, r) {
  switch (action) {
    case 'CreateQueue':
    case 'GetQueueUrl':
      return el('QueueUrl', r.QueueUrl);
    case 'ListQueues':
      return (r.QueueUrls ?? []).map((u) => el('QueueUrl', u)).join('') + el('NextToken', r.NextToken);
    case 'GetQueueAttributes':
      return attributes(r.Attributes);
    case 'ListQueueTags':
      return Object.entries(r.Tags ?? {}).map(([k, v]) => `<Tag>${el('Key', k)}${el('Value', v)}</Tag>`).join('');
    case 'SendMessage':
      return fields(r, ['MD5OfMessageBody', 'MD5OfMessageAttributes', 'MD5OfMessageSystemAttributes', 'MessageId', 'SequenceNumber']);
    case 'ReceiveMessage':
      return (r.Messages ?? []).map((m) => '<Message>' + fields(m, ['MessageId', 'ReceiptHandle', 'MD5OfBody', 'Body']) +
        attributes(m.Attributes) + el('MD5OfMessageAttributes', m.MD5OfMessageAttributes) +
        messageAttributesXml(m.MessageAttributes) + '</Message>').join('');
    case 'SendMessageBatch':
      return batch(r, 'SendMessageBatchResultEntry',
        ['Id', 'MessageId', 'MD5OfMessageBody', 'MD5OfMessageAttributes', 'MD5OfMessageSystemAttributes', 'SequenceNumber']);
    case 'DeleteMessageBatch':
      return batch(r, 'DeleteMessageBatchResultEntry', ['Id']);
    case 'ChangeMessageVisibilityBatch':
      return batch(r, 'ChangeMessageVisibilityBatchResultEntry', ['Id']);
    default:
      return undefined;
  }
}

/** A successful JSON answer (text) -> the query protocol's XML. */
export function successXml(action, jsonText) {
  const r = jsonText ? JSON.parse(jsonText) : {};
  const result = resultXml(action, r);
  const requestId = randomBytes(16).toString('hex');
  return `<?xml version="1.0"?>\n<${action}Response xmlns="${SQS_XMLNS}">` +
    (result === undefined ? '' : `<${action}Result>${result}</${action}Result>`) +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
}

/** An error in the query protocol's form; code as the query API names it (AWS.SimpleQueueService.NonExistentQueue). */
export function errorXml(status, code, message) {
  return `<?xml version="1.0"?>\n<ErrorResponse xmlns="${SQS_XMLNS}"><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
    `${el('Code', code)}${el('Message', message)}<Detail/></Error>` +
    `<RequestId>${randomBytes(16).toString('hex')}</RequestId></ErrorResponse>`;
}

/**
 * A JSON error answer (text, and its x-amzn-query-error header) -> XML.  The
 * header carries the query API's code where it differs from the JSON one
 * (QueueDoesNotExist is AWS.SimpleQueueService.NonExistentQueue).
 */
export function jsonErrorToXml(status, jsonText, queryErrorHeader) {
  let body = {};
  try { body = JSON.parse(jsonText); } catch { /* not JSON: keep the defaults */ }
  const code = (queryErrorHeader ? String(queryErrorHeader).split(';')[0] : '') ||
    String(body.__type ?? 'InternalError').replace(/^.*#/, '');
  return errorXml(status, code, body.message ?? body.Message ?? String(jsonText ?? ''));
}
