import { createHash, createHmac } from 'node:crypto';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * A minimal AWS Signature V4 signer for `POST /{stage}/@connections/{id}` (service `execute-api`), with the
 * signing key cached per day as a hand-rolled client would. For the micro-benchmark only.
 */
export function sigV4Signer(credentials: Credentials, region: string, service = 'execute-api') {
  let keyDate = '';
  let key: Buffer = Buffer.alloc(0);
  const hmac = (k: Buffer | string, data: string) => createHmac('sha256', k).update(data).digest();
  return (host: string, path: string, body: Buffer, now = new Date()): Record<string, string> => {
    const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, '');
    const date = amzDate.slice(0, 8);
    if (date !== keyDate) {
      key = hmac(
        hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), service),
        'aws4_request',
      );
      keyDate = date;
    }
    const payloadHash = createHash('sha256').update(body).digest('hex');
    const headers: Record<string, string> = {
      host,
      'x-amz-content-sha256': payloadHash,
      'x-amz-date': amzDate,
      ...(credentials.sessionToken && { 'x-amz-security-token': credentials.sessionToken }),
    };
    const names = Object.keys(headers).sort();
    const canonical = [
      'POST',
      path.split('/').map(encodeURIComponent).join('/'),
      '',
      ...names.map((name) => `${name}:${headers[name]}`),
      '',
      names.join(';'),
      payloadHash,
    ].join('\n');
    const scope = `${date}/${region}/${service}/aws4_request`;
    const toSign = [
      'AWS4-HMAC-SHA256',
      amzDate,
      scope,
      createHash('sha256').update(canonical).digest('hex'),
    ].join('\n');
    const signature = createHmac('sha256', key).update(toSign).digest('hex');
    return {
      ...headers,
      authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
    };
  };
}
