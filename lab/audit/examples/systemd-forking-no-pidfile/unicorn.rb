# A team's unicorn.rb as the public reports show them: a pid file, a worker timeout, the app
# loaded in the master, and the usual before_fork that QUITs the old master after a USR2.
worker_processes 4
pid "/run/unicorn/unicorn.pid"
timeout 30
preload_app true
stderr_path "/var/log/unicorn/unicorn.log"

before_fork do |server, worker|
  old_pid = "#{server.config[:pid]}.oldbin"
  if File.exist?(old_pid) && server.pid != old_pid
    begin
      Process.kill(:QUIT, File.read(old_pid).to_i)
    rescue Errno::ENOENT, Errno::ESRCH
      # someone else did our job for us
    end
  end
end
