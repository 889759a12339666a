# unicorn's config for the unicorn-cold-workers scenario, installed over /opt/unicorn/app/unicorn.rb
# at boot (the lab's own is kept as /opt/unicorn/cold-workers/lab-unicorn.rb): the lab's config,
# with its usual before_fork hook that QUITs the .oldbin master, then two settings the scenario
# changes between deploys. A USR2 starts a new master that reads this file anew, so each
# deploy runs with what /opt/unicorn/cold-workers/variant says at that moment, one key=value
# a line:
#
#   preload=true|false   preload_app
#   backlog=N            listen SOCKET, :backlog => N. unicorn 6 calls listen(2) again on every
#                        socket it inherits (UNICORN_FD or LISTEN_FDS: inherit_listeners! ->
#                        set_server_sockopt), with the backlog of the `listen` that names it,
#                        else its default 1024: whoever made the socket (upstart's bridge,
#                        systemd) only sets the backlog until the first master starts
#   socket=PATH          the socket's path as the kernel names it (getsockname, as `ss -xl`
#                        shows it): unicorn finds a listener's options by that name
#
# Plain Ruby 1.8.7 syntax, as the lab's unicorn.rb.

LAB_COLD = '/opt/unicorn/cold-workers'

instance_eval(File.read("#{LAB_COLD}/lab-unicorn.rb"), "#{LAB_COLD}/lab-unicorn.rb")

cold = {}
begin
  File.read("#{LAB_COLD}/variant").split("\n").each do |line|
    key, value = line.strip.split('=', 2)
    cold[key] = value unless key.nil? || key.empty? || value.nil?
  end
rescue SystemCallError
  cold = {}
end

preload_app(cold['preload'] != 'false') if cold['preload']
listen(cold['socket'], :backlog => Integer(cold['backlog'])) if cold['backlog'] && cold['socket']
