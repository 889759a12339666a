# unicorn's config for the lab, for images/conf/unicorn/config.ru, started by unicorn-wrapper:
#
#   unicorn-wrapper -- /usr/bin/unicorn -E production -c /etc/unicorn/unicorn.rb config.ru
#
# No `listen` here: the socket comes from upstart-socket-bridge through the wrapper
# (UNICORN_FD=3), and the wrapper also passes `-l <that address>`, without which unicorn 6
# closes an adopted socket on the next HUP (config reload). No stderr_path/stdout_path: the
# log stays on stderr, where upstart's console log (or the wrapper's caller) collects it.
#
# Settings come from the environment, so one file serves every job:
#   UNICORN_WORKERS      worker_processes (default 2)
#   UNICORN_PID          pid file (default /var/run/unicorn/unicorn.pid); the wrapper learns it from here
#   UNICORN_TIMEOUT      seconds before the master kills a stuck worker (default 30)
#   UNICORN_PRELOAD      load the app in the master before forking (default true)
#   UNICORN_QUIT_OLDBIN  the before_fork hook QUITs the .oldbin master (default true)
#
# Plain Ruby 1.8.7 syntax (no keyword arguments, no &., no ->), so the file also loads on
# Ubuntu 12.04's Ruby 1.8/1.9 with unicorn 4. Everything used here exists in unicorn 4.

def lab_flag(name, default)
  v = ENV[name]
  return default if v.nil? || v.empty?
  !%w(0 false no off).include?(v.downcase)
end

worker_processes Integer(ENV['UNICORN_WORKERS'] || 2)
pid ENV['UNICORN_PID'] || '/var/run/unicorn/unicorn.pid'
timeout Integer(ENV['UNICORN_TIMEOUT'] || 30)
preload_app lab_flag('UNICORN_PRELOAD', true)

# The master generation the demo app reports: 1 for the first master, +1 for each master a
# USR2 re-exec starts. HUP re-reads this file; ||= keeps the count.
ENV['UNICORN_GENERATION'] ||= '1'

before_exec do |server|
  # Runs in the forked child just before it re-executes into the new master: only the new
  # master sees the incremented count, and a failed upgrade leaves the old one as it was.
  ENV['UNICORN_GENERATION'] = (ENV['UNICORN_GENERATION'].to_i + 1).to_s
end

before_fork do |server, worker|
  # unicorn's usual hook: the new master QUITs the old one (PIDFILE.oldbin) as soon as it
  # forks its first worker. The old master stops accepting at once, its workers finish what
  # they have; until the new workers accept, connections wait in the socket's backlog. With
  # preload_app false a broken app is only found in the workers, after the old master is
  # gone: keep preload_app on, or turn this off and QUIT the old master by hand.
  if lab_flag('UNICORN_QUIT_OLDBIN', true)
    old_pid = "#{server.config[:pid]}.oldbin"
    if File.exist?(old_pid) && server.pid != old_pid
      begin
        Process.kill('QUIT', File.read(old_pid).to_i)
      rescue Errno::ENOENT, Errno::ESRCH
        # already gone: another worker's hook or the operator got there first
      end
    end
  end
end

after_fork do |server, worker|
  # The demo app reports its worker slot, as phoenix's does.
  ENV['UNICORN_WORKER_NR'] = worker.nr.to_s
end
