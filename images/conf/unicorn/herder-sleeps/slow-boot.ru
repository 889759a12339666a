# The lab's demo app behind a slow boot, for scenario unicorn-herder-sleeps.
#
# Why this file exists: real apps take seconds to load (Rails, many gems, a
# warm-up), and a herder or deploy script that waits a fixed time before it
# judges the master loses such a boot. This rackup sleeps, then loads the
# image's demo app unchanged (the scenario copies the image's config.ru to
# demo.ru and puts this file in its place). With preload_app (unicorn.rb's
# default) the sleep runs in the master, in build_app!, AFTER unicorn has
# written its pid file (HttpServer#start: `self.pid = ...` comes before
# `build_app! if preload_app`) and BEFORE it binds a -l socket, forks a
# worker or runs before_fork; `unicorn -D`'s launcher returns only once the
# master reaches join, after all that.
#
# The number of seconds is written by the scenario (its one BOOT_SECONDS
# constant) into boot-seconds beside this file; without it there is no sleep.
# Plain Ruby 1.8.7 syntax, as the demo app.

lab_dir = File.dirname(__FILE__)
lab_boot = begin
  File.read(File.join(lab_dir, 'boot-seconds')).strip.to_f
rescue SystemCallError
  0.0
end
$stderr.puts "slow-boot.ru: loading the app takes #{lab_boot} s (pid #{Process.pid})"
sleep(lab_boot) if lab_boot > 0

lab_demo = File.join(lab_dir, 'demo.ru')
instance_eval(File.read(lab_demo), lab_demo)
