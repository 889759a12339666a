import type { ScenarioContext } from './context';
import { type JobEvent, parseJobEvents } from './unicorn-common';

/** Where the lab's task writes upstart's own `starting`/`stopping` events for the app's job. */
export const JOB_EVENTS_LOG = '/var/log/lab-job-events.log';
export const JOB_EVENTS_TASK = '/etc/init/lab-job-events.conf';

/**
 * A task upstart runs on each `starting` and `stopping` of the app's job (either server's),
 * writing the event's RESULT, PROCESS and EXIT_STATUS: how each run ended and when upstart
 * started the job next (a respawn, a socket event), from upstart itself, whatever the app logs. Both events block the job until the task
 * is done, so none is missed.
 */
export const JOB_EVENTS_TASK_TEXT = `# Written by the lab (scenarios): upstart's starts and stops of the app's job.
description "lab: one line per starting/stopping event of the app's job"

start on starting unicorn or stopping unicorn or starting phoenix or stopping phoenix

task

script
    printf '%s %s result=%s process=%s status=%s signal=%s\\n' "$(/bin/date +%s.%N)" "$UPSTART_EVENTS" \\
        "\${RESULT:-}" "\${PROCESS:-}" "\${EXIT_STATUS:-}" "\${EXIT_SIGNAL:-}" >> ${JOB_EVENTS_LOG}
end script
`;

/** upstart's own events of the app's job so far, from the task above ([] where it is not installed: systemd). */
export async function appJobEvents(ctx: ScenarioContext): Promise<JobEvent[]> {
  return parseJobEvents((await ctx.sh(`cat ${JOB_EVENTS_LOG} 2>/dev/null`)).stdout);
}
