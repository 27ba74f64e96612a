import { defineCommand } from 'citty';
export default defineCommand({ meta: { name: 'emulator', description: 'placeholder' }, run() { process.stdout.write('todo\n'); } });
