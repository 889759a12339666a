# unicorn's config for unicorn-forking.service (unicorn -D): the image's
# unicorn.rb as it is (pid file from UNICORN_PID, before_fork QUITs the .oldbin
# master), plus a log file, because -D points stderr at /dev/null unless the
# config names a path. Plain Ruby 1.8.7 syntax, like unicorn.rb.
base = '/opt/unicorn/app/unicorn.rb'
instance_eval(File.read(base), base)
stderr_path(ENV['UNICORN_STDERR'] || '/var/log/unicorn/forking.log')
