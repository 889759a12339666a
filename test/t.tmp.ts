import { upstart, systemd } from '../lab/scenarios/configs';
console.log(upstart.withoutPidFile(upstart.strategy('bridge-reexec')).split('\n').slice(-8).join('\n'));
console.log(systemd.reexec(systemd.service()).split('\n').filter(l=>l.startsWith('ExecStart')).join('\n'));
console.log(upstart.withRespawn(upstart.strategy('bridge-inplace')).split('\n').filter(l=>!l.startsWith('#')).join('\n'));
