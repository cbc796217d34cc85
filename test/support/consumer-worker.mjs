// A worker process of a pull consumer group, through the client library (client/dist): for each
// message it prints `start <id>`, works for a moment, prints `done <id>` once the handler returns
// (the library then acks it), and `lost <id>` when the ack found the lease expired (the message
// goes to another worker). The test kills it with SIGKILL in the middle of its work.
import { RowcastClient } from '../../client/dist/index.js';

const [url, group, concurrency, workMs] = process.argv.slice(2);
const client = new RowcastClient({ url });
client.consume(
  group,
  async (notification, message) => {
    process.stdout.write(`start ${notification.id}\n`);
    await new Promise((resolve) => setTimeout(resolve, Number(workMs))); // the work
    process.stdout.write(`done ${notification.id}\n`);
  },
  {
    concurrency: Number(concurrency),
    waitMs: 1000,
    // A lease that expired before the library could settle (or extend) it: `lost <id>`, it goes to another worker.
    onError: (error) => {
      const lost = /of notification (\d+) (expired|was lost)/.exec(error.message);
      process.stdout.write(lost ? `lost ${lost[1]}\n` : `error ${error.message}\n`);
    },
  },
);
