-- containerspec for plain sbatch: a Slurm cli_filter (CliFilterPlugins=cli_filter/lua, this file
-- as cli_filter.lua next to slurm.conf). A job submitted with --comment=image=REF gets the
-- image's constraint ANDed with its own, or is refused before it reaches slurmctld when no node
-- of the cluster can run the image. Nodes need containerspec's features: containerspec slurm sync.
--
-- sbatch runs this on the submitting host, so containerspec must be installed there; set
-- CONTAINERSPEC to its path when it is not on PATH.

local function shell_quote(s)
  return "'" .. string.gsub(s, "'", "'\\''") .. "'"
end

local function image_of(comment)
  if comment == nil then return nil end
  return string.match(comment, "image=(%S+)")
end

function slurm_cli_setup_defaults(options, early_pass)
  return slurm.SUCCESS
end

function slurm_cli_pre_submit(options, pack_offset)
  local ref = image_of(options.comment)
  if ref == nil then return slurm.SUCCESS end
  local cs = os.getenv("CONTAINERSPEC") or "containerspec"
  local p = io.popen(cs .. " check " .. shell_quote(ref) .. " --slurm-constraint --cluster --quiet 2>&1; echo \"exit=$?\"")
  local out = p:read("*a")
  p:close()
  local status = tonumber(string.match(out, "exit=(%d+)%s*$"))
  local body = string.gsub(out, "exit=%d+%s*$", "")
  if status ~= 0 then
    slurm.log_error("containerspec: %s", (string.gsub(body, "%s+$", "")))
    return slurm.ERROR
  end
  local c = string.match(body, "^(%S+)")
  if c == nil then return slurm.SUCCESS end -- the image asks nothing of a node
  if options.constraint ~= nil and options.constraint ~= "" then
    options.constraint = "(" .. options.constraint .. ")&(" .. c .. ")"
  else
    options.constraint = c
  end
  return slurm.SUCCESS
end

function slurm_cli_post_submit(offset, job_id, step_id)
  return slurm.SUCCESS
end
