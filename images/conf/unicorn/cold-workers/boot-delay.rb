# Put in front of the lab's config.ru by the unicorn-cold-workers scenario: an app that takes
# seconds to load (a large Rails app requiring its gems and code). The process that loads it
# cannot accept meanwhile: the master with preload_app, else every worker after its fork.
# Seconds from /opt/unicorn/cold-workers/boot-seconds (none or 0: no delay).
lab_boot_seconds = begin
  Float(File.read('/opt/unicorn/cold-workers/boot-seconds').strip)
rescue ArgumentError, SystemCallError
  0.0
end
if lab_boot_seconds > 0
  $stderr.puts "lab app, pid #{Process.pid}, loading for #{lab_boot_seconds} s"
  sleep(lab_boot_seconds)
  $stderr.puts "lab app, pid #{Process.pid}, loaded"
end
