# listen-queue.rb SOCKET LOG [INTERVAL] - samples a listening unix socket's accept queue.
#
# Why: the unicorn-cold-workers scenario shows connections piling up in the kernel while no
# unicorn worker accepts. For a listening unix socket `ss -xl` (iproute2, through the kernel's
# unix_diag) shows Recv-Q = connections waiting to be accepted and Send-Q = the backlog in
# effect; /proc/net/unix has no queue at all. Every INTERVAL seconds (default 0.1) one line is
# appended to LOG: <ms since the epoch> <waiting> <backlog>; nothing while no listening socket
# is bound at SOCKET. /var/run/X and /run/X are both matched (one file where /var/run links to
# /run; `ss` shows the path the socket was bound with). Ruby rather than a shell loop: one
# process forking only `ss`, so the samples stay close together on a busy machine.
# Runs until killed. Plain Ruby 1.8.7 syntax.

sock, log, every = ARGV[0], ARGV[1], Float(ARGV[2] || '0.1')
if sock.nil? || log.nil?
  $stderr.puts 'usage: listen-queue.rb SOCKET LOG [INTERVAL]'
  exit 64
end
names = [sock, sock.sub(%r{\A/var/run/}, '/run/'), sock.sub(%r{\A/run/}, '/var/run/')].uniq

File.open(log, 'a') do |out|
  out.sync = true
  loop do
    now = (Time.now.to_f * 1000).round
    `ss -xl`.split("\n").each do |line|
      f = line.split
      next unless f[1] == 'LISTEN' && names.include?(f[4])
      out.puts "#{now} #{f[2]} #{f[3]}"
      break
    end
    sleep(every)
  end
end
