# One release of a Capistrano-deployed app, for the unicorn-symlinked-releases scenario: why
# it exists is to make what serves say where it came from. Each release directory
# (/srv/app/releases/X) holds a copy of this file, a REVISION file (Capistrano writes one into
# every release) and a Gemfile; /srv/app/current links to the release being deployed.
#
#   /            the lab's demo JSON {"pid","master","worker","generation","version"} plus
#                "cwd" (the worker's Dir.pwd) and "bundleGemfile" (its ENV['BUNDLE_GEMFILE'])
#   /health      ok
#   /slow?ms=N   answers after N ms (default 1000): a request in flight across an upgrade
#
# The same x-phoenix-* headers as images/conf/unicorn/config.ru, so the lab's load generator
# and verdicts read it like the shared demo app. Plain Ruby 1.8.7 syntax, as that file.

# The release this code is, read once when the app loads (preload_app: in the master). unicorn
# runs without a rackup argument, as capistrano3-unicorn starts it, so it loads `config.ru`
# from the directory it runs in: the release the master's working directory is, whatever
# /srv/app/current names by then.
RELEASE = begin
  File.read(File.expand_path('REVISION', File.dirname(__FILE__))).strip
rescue SystemCallError
  'unknown'
end

def release_json_string(s)
  '"' + s.to_s.gsub(/[\\"]/) { |c| '\\' + c }.gsub(/[\x00-\x1f]/) { |c| format('\\u%04x', c.unpack('C')[0]) } + '"'
end

# Where this worker runs. getcwd fails (ENOENT) once the directory has been deleted, which is
# the point of the scenario: then the kernel's own name for it says so ("... (deleted)").
def release_cwd
  Dir.pwd
rescue SystemCallError
  begin
    File.readlink('/proc/self/cwd')
  rescue SystemCallError
    '?'
  end
end

def release_ms(env, fallback)
  m = /(?:\A|&)ms=(\d+)/.match(env['QUERY_STRING'].to_s)
  m ? [m[1].to_i, 600_000].min : fallback
end

run lambda { |env|
  generation = (ENV['UNICORN_GENERATION'] || '1').to_i
  worker = (ENV['UNICORN_WORKER_NR'] || '-1').to_i
  who = '"pid":' + Process.pid.to_s + ',"master":' + Process.ppid.to_s + ',"worker":' + worker.to_s +
        ',"generation":' + generation.to_s + ',"version":' + release_json_string(RELEASE)
  headers = lambda { |type|
    { 'content-type' => type, 'x-phoenix-pid' => Process.pid.to_s,
      'x-phoenix-generation' => generation.to_s, 'x-phoenix-worker' => worker.to_s }
  }
  case env['PATH_INFO']
  when '/'
    where = ',"cwd":' + release_json_string(release_cwd) +
            ',"bundleGemfile":' + release_json_string(ENV['BUNDLE_GEMFILE'].to_s)
    [200, headers.call('application/json'), ['{' + who + where + "}\n"]]
  when '/health'
    [200, headers.call('text/plain'), ["ok\n"]]
  when '/slow'
    ms = release_ms(env, 1000)
    sleep(ms / 1000.0)
    [200, headers.call('application/json'), ['{' + who + ',"slept":' + ms.to_s + "}\n"]]
  else
    [404, headers.call('application/json'),
     ['{"error":"not found","path":' + release_json_string(env['PATH_INFO']) + "}\n"]]
  end
}
