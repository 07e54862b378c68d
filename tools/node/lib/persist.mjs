// --data-dir: the emulator's state on disk, so that a restarted emulator (a
// crash of "S3 and SQS", for the tests that need one) has its buckets, objects,
// queues, messages (in flight ones with their visibility deadline), topics and
// bucket notification configurations back.
//
// fauxqs keeps S3, SQS and SNS in SQLite when given a data directory
// (its PersistenceManager, wired into the stores the way its own startFauxqs
// does); the notification configurations are ours, kept beside it as JSON.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function openState(dataDir, { sqsStore, snsStore, s3Store, fauxqsModule }) {
  mkdirSync(dataDir, { recursive: true });
  const { PersistenceManager } = await fauxqsModule('./persistence.js');
  const pm = new PersistenceManager(dataDir);
  // load first, then attach (loading through an attached store would write back)
  pm.load(sqsStore, snsStore, s3Store);
  sqsStore.persistence = pm;
  snsStore.persistence = pm;
  for (const queue of sqsStore.allQueues()) queue.persistence = pm;
  s3Store.persistence = pm;

  const configFile = join(dataDir, 'notifications.json');
  return {
    /** Restore the notification configurations, and save them on every change. */
    attachNotifier(notifier) {
      if (existsSync(configFile)) {
        for (const [bucket, configs] of JSON.parse(readFileSync(configFile, 'utf8'))) notifier.configs.set(bucket, configs);
      }
      const save = () => {
        const tmp = `${configFile}.tmp`;
        writeFileSync(tmp, JSON.stringify([...notifier.configs]));
        renameSync(tmp, configFile);
      };
      const configure = notifier.configure.bind(notifier);
      const dropBucket = notifier.dropBucket.bind(notifier);
      notifier.configure = (...args) => { const r = configure(...args); save(); return r; };
      notifier.dropBucket = (...args) => { const r = dropBucket(...args); save(); return r; };
    },
    close() { pm.close(); },
  };
}
