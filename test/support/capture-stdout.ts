/** Everything written to `streams` while `run` runs, in the order written, and nothing else. */
export function captureStreams(streams: NodeJS.WriteStream[], run: () => void): string {
  const writes = streams.map((stream) => stream.write);
  let out = '';
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    }) as typeof stream.write;
  }
  try {
    run();
  } finally {
    streams.forEach((stream, i) => {
      stream.write = writes[i] as typeof stream.write;
    });
  }
  return out;
}

/** Powertools writes metrics and log lines up to INFO to stdout. */
export const captureStdout = (run: () => void): string => captureStreams([process.stdout], run);

/** stdout and stderr (Powertools writes WARN and ERROR lines to stderr). */
export const captureOutput = (run: () => void): string =>
  captureStreams([process.stdout, process.stderr], run);
